"""Detection on several threads for one video: frame i goes to detector i mod N, results come
back in frame order.

mediapipe's `process` (and video decoding, PNG encoding) release the GIL, so N detectors on N
threads use N cores for a single video. Each detector keeps its own tracking state and sees
every N-th frame (tracking across a gap of N frames), so results are deterministic for a given
N but not identical to N = 1. At most `2 N` frames are in flight: memory stays flat.
"""
from __future__ import annotations

import queue
import threading
from collections import deque
from typing import Iterable, Iterator, Sequence

import numpy as np

from v2vtool.io.keypoints import Frame
from v2vtool.semantics.extractor_base import Extractor

_STOP = object()


def _serve(ex: Extractor, inbox: queue.Queue, outbox: queue.Queue) -> None:
    while True:
        frame = inbox.get()
        if frame is _STOP:
            return
        try:
            outbox.put(ex.detect(frame))
        except BaseException as exc:  # handed to the caller, which re-raises it
            outbox.put(exc)
            return


def detect_stream(frames: Iterable[np.ndarray], extractors: Sequence[Extractor],
                  ) -> Iterator[tuple[np.ndarray, Frame, np.ndarray | None]]:
    """Yield (frame, keypoints, mask) for each frame, in order, detected round-robin by
    `extractors` (one thread each; with one extractor: in the calling thread)."""
    if len(extractors) == 1:
        ex = extractors[0]
        for frame in frames:
            yield (frame, *ex.detect(frame))
        return
    n = len(extractors)
    inboxes = [queue.Queue() for _ in range(n)]
    outboxes = [queue.Queue() for _ in range(n)]
    threads = [threading.Thread(target=_serve, args=(ex, i, o), daemon=True,
                                name=f"detector-{k}")
               for k, (ex, i, o) in enumerate(zip(extractors, inboxes, outboxes))]
    for t in threads:
        t.start()
    pending: deque = deque()  # (index, frame) submitted, oldest first

    def collect():
        j, frame = pending.popleft()
        result = outboxes[j % n].get()
        if isinstance(result, BaseException):
            raise result
        return (frame, *result)

    try:
        for i, frame in enumerate(frames):
            inboxes[i % n].put(frame)
            pending.append((i, frame))
            if len(pending) >= 2 * n:
                yield collect()
        while pending:
            yield collect()
    finally:
        for box in inboxes:
            box.put(_STOP)
        for t in threads:
            t.join()
