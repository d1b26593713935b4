"""What `v2v evaluate` reads: re-iterable frame sources (videos, PNG folders, clip dirs, with the
clip's true person masks), their hashes, and the driver's keypoints."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from v2vtool.errors import UserError
from v2vtool.io.clipdir import Clip, frame_name, is_clip_dir
from v2vtool.io.hashing import sha256_file
from v2vtool.io.keypoints import read_jsonl, read_openpose_dir
from v2vtool.metrics.common import MetricUnavailable


def hash_path(path: str | os.PathLike) -> str:
    """sha256 of a file, or of a folder's (relative name, file sha256) list."""
    p = Path(path)
    if p.is_file():
        return sha256_file(p)
    h = hashlib.sha256()
    for f in sorted(q for q in p.rglob("*") if q.is_file()):
        h.update(str(f.relative_to(p)).encode() + b"\0" + sha256_file(f).encode())
    return h.hexdigest()


class Reiterable:
    """An iterable that calls `make()` for a fresh iterator each time (streams, re-readable)."""

    def __init__(self, make: Callable[[], Iterator]):
        self.make = make

    def __iter__(self) -> Iterator:
        return self.make()


class FrameSource:
    """Re-iterable frames of a video / PNG folder / clip dir (each iteration streams anew).

    view: the synthesizer's crop (`data.augment.View`), applied to frames and masks alike
    before they are resized to the generated size."""

    view = None

    def __init__(self, path: str | os.PathLike, role: str):
        self.path = Path(path)
        self.role = role
        if not self.path.exists():
            raise UserError(f"{self.path}: --{role}: no such file or directory")
        self.clip = Clip(self.path) if is_clip_dir(self.path) else None
        if self.clip is not None:
            self.count, self.size = len(self.clip), self.clip.size
        else:
            from v2vtool.io.video import open_video

            from v2vtool.io.sequence import warn_missing

            with open_video(self.path) as r:  # videos upright (display matrix / rotate tag)
                self.count, self.size = r.frame_count, tuple(r.size)
                warn_missing(f"--{role} {self.path}", r.missing, "the previous frame is held "
                             "in each place (frames are not closed up)")

    def __iter__(self) -> Iterator[np.ndarray]:
        if self.clip is not None:
            for i in range(len(self.clip)):
                yield self.clip.frame(i)
            return
        from v2vtool.io.video import open_video

        with open_video(self.path) as r:
            yield from r

    def _resized(self, size: tuple[int, int]) -> Iterator[np.ndarray]:
        for f in self:
            if self.view is not None:
                f = self.view.image(f)
            if (f.shape[1], f.shape[0]) != tuple(size):
                f = cv2.resize(f, tuple(size), interpolation=cv2.INTER_AREA)
            yield f

    def resized(self, size: tuple[int, int]) -> Reiterable:
        """The frames at `size` (w, h), through the view when one is set."""
        return Reiterable(lambda: self._resized(size))

    @property
    def has_masks(self) -> bool:
        """A clip dir with a person mask for every frame (masks/)."""
        return self.clip is not None and all(
            (self.path / "masks" / frame_name(i)).is_file() for i in range(self.count))

    def _masks(self, size: tuple[int, int]) -> Iterator[np.ndarray]:
        for i in range(self.count):
            m = self.clip.mask(i)
            if self.view is not None:
                m = self.view.label(m)
            if (m.shape[1], m.shape[0]) != tuple(size):
                m = cv2.resize(m, tuple(size), interpolation=cv2.INTER_NEAREST)
            yield m

    def masks(self, size: tuple[int, int]) -> Reiterable | None:
        """The true person masks ((h, w) uint8, nonzero = person) at `size`, geometry as the
        frames' (nearest-neighbour); None without masks."""
        return Reiterable(lambda: self._masks(size)) if self.has_masks else None

    def describe(self) -> dict:
        return {"path": str(self.path), "sha256": hash_path(self.path), "frames": self.count,
                "size": list(self.size)}


def driver_frames(path: Path, estimator_factory: Callable | None
                  ) -> tuple[list, tuple[int, int] | None]:
    """The driving keypoint Frames and the pixel frame (w, h) they live in (None: unknown).

    Clip dir -> its keypoints.jsonl; .jsonl -> read; folder of OpenPose *.json -> read;
    a video -> the extract estimator (`estimator_factory()`, BODY_25 only)."""
    from v2vtool.io.keypoints import Person

    if is_clip_dir(path):
        clip = Clip(path)
        if not clip.has_keypoints:
            raise MetricUnavailable(f"pose error skipped: {path} has no keypoints.jsonl")
        return clip.keypoints, clip.size
    if path.suffix == ".jsonl":
        return read_jsonl(path), None
    if path.is_dir() and any(path.glob("*.json")):
        return read_openpose_dir(path), None
    if estimator_factory is None:
        raise MetricUnavailable("pose error skipped: driver is a video and no pose estimator")
    est = estimator_factory()
    src = FrameSource(path, "driver")
    return [[] if p is None else [Person(pose=p)] for p in (est(f) for f in src)], src.size
