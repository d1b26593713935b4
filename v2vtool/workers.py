"""Signals in the worker processes of v2v commands (`data synth --workers`, `extract
--processes`, DataLoader workers).

Ctrl-C reaches every process of the terminal's foreground group, but only the main process
reacts: it stops its pool, removes what the run wrote and prints one `interrupted` line (exit
130). A worker must not print a KeyboardInterrupt traceback of its own, and must not run the
CLI's SIGTERM-to-exception handler that a fork copies into it: raised inside the pool's own
code (a worker waiting on the task queue's lock while the pool terminates), that exception can
leave the pool waiting forever. `init_worker` (the pools' initializer) ignores SIGINT and
restores SIGTERM's default (a terminated worker just ends; the main process cleans up).

`interruptible()` lets a job of a worker stop at Ctrl-C and clean up after itself (its own
`finally` / `with` blocks run): inside it SIGINT raises KeyboardInterrupt; outside it the
signal is only remembered, and the next job of that worker stops before it starts. For
`concurrent.futures` pools, which hand a job's exception back to the main process.
"""
from __future__ import annotations

import contextlib
import signal
from typing import Iterator

# this worker process's signal state (one per process, set by the handler below)
_STATE = {"in_job": False, "interrupted": False}


def _on_sigint(signum, frame) -> None:
    _STATE["interrupted"] = True
    if _STATE["in_job"]:
        raise KeyboardInterrupt


def init_worker() -> None:
    """Pool initializer: Ctrl-C is the main process's to handle; SIGTERM ends the worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def init_interruptible_worker() -> None:
    """Pool initializer for jobs run under `interruptible()`."""
    init_worker()
    signal.signal(signal.SIGINT, _on_sigint)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """A worker's job: Ctrl-C (now, or earlier while the worker was idle) stops it with
    KeyboardInterrupt, so the job's own cleanup runs."""
    if _STATE["interrupted"]:
        raise KeyboardInterrupt
    _STATE["in_job"] = True
    try:
        yield
    finally:
        _STATE["in_job"] = False
