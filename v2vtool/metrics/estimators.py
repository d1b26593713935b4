"""Pose estimators for the pose error, independent of the generator.

`PoseEstimator`: `__call__(rgb (H, W, 3) uint8) -> (25, 3) BODY_25 array (x, y, conf) | None`,
`.name`, `.joints` (the BODY_25 indices it can produce; others are not scored).

- "extract": the estimator `v2v extract` uses (mediapipe BlazePose -> BODY_25), for real footage.
- "keynet": the small heatmap network trained on the procedural benchmark's true frames
  (`weights/keypoints/`, see `v2vtool.metrics.keypoint_net`), for the benchmark.
"""
from __future__ import annotations

import hashlib
import os
from typing import Protocol

import numpy as np

from v2vtool.errors import UserError
from v2vtool.io.keypoints import main_person
from v2vtool.metrics.common import MetricUnavailable

# mediapipe BlazePose has no small-toe points (see v2vtool/semantics/pose.py)
EXTRACT_JOINTS = tuple(i for i in range(25) if i not in (20, 23))


class PoseEstimator(Protocol):
    name: str
    joints: tuple[int, ...]

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None: ...


class ExtractPoseEstimator:
    """The `v2v extract` pose extractor (mediapipe), main person's BODY_25.

    static: every frame on its own (no tracking from the previous call: the result of a frame
    does not depend on what was estimated before it); options go to the extractor (e.g.
    hands_face=False, mask=False: the body model only, the same BODY_25, faster)."""

    name = "extract"
    joints = EXTRACT_JOINTS

    def __init__(self, static: bool = False, **options):
        from v2vtool.semantics.kinds import get_extractor

        try:
            self._ex = get_extractor("pose", static=static, **options)
        except ImportError as exc:  # mediapipe missing or broken
            raise MetricUnavailable(f"pose error unavailable: the extract pose estimator "
                                    f"cannot be imported ({exc})") from None
        except UserError as exc:
            raise MetricUnavailable(f"pose error unavailable: {exc}") from None

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        people, _ = self._ex.detect(rgb)
        p = main_person(people)
        return None if p is None else np.asarray(p.pose, np.float32)

    def close(self) -> None:
        self._ex.close()


class CachedEstimator:
    """An estimator that remembers its answer per frame content, so a frame scored in several
    rows (the truth, a copied example, the generated frames read by pose error and AKD) is
    estimated once. Exact for static estimators; a tracking one answers a repeated frame as it
    did the first time."""

    def __init__(self, estimator: PoseEstimator):
        self.estimator = estimator
        self.name, self.joints = estimator.name, estimator.joints
        self._seen: dict = {}
        self.calls = 0  # frames actually estimated

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        a = np.ascontiguousarray(rgb)
        key = (a.shape, hashlib.blake2b(a.tobytes(), digest_size=16).digest())
        if key not in self._seen:
            self.calls += 1
            self._seen[key] = self.estimator(a)
        pose = self._seen[key]
        return None if pose is None else pose.copy()


def get_pose_estimator(name: str, keynet_dir: str | os.PathLike | None = None) -> PoseEstimator:
    """"extract" or "keynet" (raises MetricUnavailable when it cannot be built here)."""
    if name == "extract":
        return ExtractPoseEstimator()
    if name == "keynet":
        from v2vtool.metrics.keypoint_net import load_keypoint_estimator

        return load_keypoint_estimator(keynet_dir)
    raise UserError(f"--pose-estimator: unknown estimator {name!r} (extract, keynet)")
