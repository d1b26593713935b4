"""Pose estimators for the pose error, independent of the generator.

`PoseEstimator`: `__call__(rgb (H, W, 3) uint8) -> (25, 3) BODY_25 array (x, y, conf) | None`,
`.name`, `.joints` (the BODY_25 indices it can produce; others are not scored).

- "extract": the estimator `v2v extract` uses (mediapipe BlazePose -> BODY_25), for real footage.
- "keynet": the small heatmap network trained on the procedural benchmark's true frames
  (`weights/keypoints/`, see `v2vtool.metrics.keypoint_net`), for the benchmark.
"""
from __future__ import annotations

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
    """The `v2v extract` pose extractor (mediapipe), main person's BODY_25."""

    name = "extract"
    joints = EXTRACT_JOINTS

    def __init__(self):
        from v2vtool.semantics.kinds import get_extractor

        try:
            self._ex = get_extractor("pose")
        except ImportError as exc:  # mediapipe missing or broken
            raise MetricUnavailable(f"pose error unavailable: the extract pose estimator "
                                    f"cannot be imported ({exc})") from None
        except UserError as exc:
            raise MetricUnavailable(f"pose error unavailable: {exc}") from None

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        det = self._ex(rgb)
        p = main_person(det.keypoints)
        return None if p is None else np.asarray(p.pose, np.float32)


def get_pose_estimator(name: str, keynet_dir: str | os.PathLike | None = None) -> PoseEstimator:
    """"extract" or "keynet" (raises MetricUnavailable when it cannot be built here)."""
    if name == "extract":
        return ExtractPoseEstimator()
    if name == "keynet":
        from v2vtool.metrics.keypoint_net import load_keypoint_estimator

        return load_keypoint_estimator(keynet_dir)
    raise UserError(f"--pose-estimator: unknown estimator {name!r} (extract, keynet)")
