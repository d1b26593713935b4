"""Signals in the worker processes of v2v commands (`data synth --workers`, `extract
--processes`, DataLoader workers).

Ctrl-C reaches every process of the terminal's foreground group, but only the main process
reacts: it stops its pool, removes what the run wrote and prints one `interrupted` line (exit
130). A worker must not print a KeyboardInterrupt traceback of its own, and must not run the
CLI's SIGTERM-to-exception handler that a fork copies into it: raised inside the pool's own
code (a worker waiting on the task queue's lock while the pool terminates), that exception can
leave the pool waiting forever. `init_worker` (the pools' initializer) ignores SIGINT and
restores SIGTERM's default (a terminated worker just ends; the main process cleans up).

`stop_if_interrupted()` lets a job of a worker stop at Ctrl-C and clean up after itself (its
own `finally` / `with` blocks run): the signal is only remembered, and the job raises
KeyboardInterrupt at its next check (extract checks once per frame), so the next job of that
worker stops before it starts too. For `concurrent.futures` pools, which hand a job's exception
back to the main process. The exception is never raised from the signal handler itself: there it
could land inside a C extension's own import, which prints the traceback instead of passing it on
(seen once in the suite: `extract --processes` interrupted while a job imported a module).
"""
from __future__ import annotations

import signal

# this worker process's signal state (one per process, set by the handler below)
_STATE = {"interrupted": False}


def _on_sigint(signum, frame) -> None:
    _STATE["interrupted"] = True


def init_worker() -> None:
    """Pool initializer: Ctrl-C is the main process's to handle; SIGTERM ends the worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def init_interruptible_worker() -> None:
    """Pool initializer for jobs that call `stop_if_interrupted()`."""
    init_worker()
    signal.signal(signal.SIGINT, _on_sigint)


def stop_if_interrupted() -> None:
    """A job's check: KeyboardInterrupt if Ctrl-C came (now, or earlier while the worker was
    idle), raised here, where the job's own cleanup runs."""
    if _STATE["interrupted"]:
        raise KeyboardInterrupt
