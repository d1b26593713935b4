"""`Prefetch`: iterate a frame source on a background thread, a few items ahead, so that decoding
overlaps with what the caller does with each frame."""
from __future__ import annotations

import contextlib
import queue
import threading
from typing import Iterable, Iterator


class Prefetch:
    """Iterate `items` (e.g. a `VideoReader`'s frames) on a background thread, up to `depth`
    items ahead, so that decoding overlaps with what the caller does with each frame (PyAV
    decodes and converts with the GIL released).

    Items come out in order. An exception raised by the source (e.g. `UserError` for a
    truncated video) is raised by this iterator at the same place in the stream. `close()`,
    or leaving the `with` block, stops the thread and waits for it, also when the caller
    stops early or fails; the source generator is closed on its own thread. Memory holds at
    most `depth` + 1 items.
    """

    _END = object()

    def __init__(self, items: Iterable, depth: int = 4):
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(items,), daemon=True,
                                        name="frame-prefetch")
        self._thread.start()

    def _put(self, item) -> bool:
        """Queue `item` unless asked to stop; False if stopped."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, items: Iterable) -> None:
        it = iter(items)
        try:
            for item in it:
                if not self._put((item, None)):
                    return
            self._put((self._END, None))
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put((None, exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator:
        while True:
            if self._stop.is_set():
                return
            item, exc = self._queue.get()
            if exc is not None:
                self.close()
                raise exc
            if item is self._END:
                self.close()
                return
            yield item

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):  # unblock a waiting put
                self._queue.get_nowait()
            self._thread.join(timeout=0.05)

    def __enter__(self) -> "Prefetch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
