"""Pose error (paper Sec. 5, "pose error"): run a pose estimator independent of the generator on
the generated frames, and take the mean Euclidean pixel distance to the DRIVING pose's joints,
over joints present in both, with coordinates rescaled to a stated reference resolution
(default: frame height 512 px, the paper's dance-video height). Also reported: the rate of
driving joints the estimator did not find in the output (missing_rate).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

REFERENCE_HEIGHT = 512


@dataclass(frozen=True)
class PoseErrorResult:
    error: float | None        # mean joint distance in px at reference_height (None: no pair)
    missing_rate: float        # driving joints not found in the output / driving joints
    joints_compared: int
    driving_joints: int
    frames: int
    reference_height: int
    frame_height: int

    def to_dict(self) -> dict:
        return {"pose_error": self.error, "pose_missing_rate": self.missing_rate,
                "pose_joints_compared": self.joints_compared,
                "pose_driving_joints": self.driving_joints, "pose_frames": self.frames,
                "pose_reference_height": self.reference_height,
                "pose_frame_height": self.frame_height}


def pose_error(estimated: Iterable[np.ndarray | None], driving: Iterable[np.ndarray | None],
               frame_height: int, reference_height: int = REFERENCE_HEIGHT,
               joints: Sequence[int] | None = None, conf_threshold: float = 0.0,
               ) -> PoseErrorResult:
    """Mean joint distance between estimated (on generated frames) and driving poses.

    estimated, driving: per frame a (J, 3) array (x, y, conf; conf <= conf_threshold = missing)
    in pixels of frames `frame_height` tall, or None (nobody detected). `joints`: the joint
    indices the estimator can produce (others are ignored, e.g. feet for a 17-joint model)."""
    scale = reference_height / float(frame_height)
    dists, n_drv, n_missing, frames = [], 0, 0, 0
    for est, drv in zip(estimated, driving, strict=True):
        frames += 1
        if drv is None:
            continue
        drv = np.asarray(drv, np.float32)
        sel = np.arange(drv.shape[0]) if joints is None else np.asarray(joints)
        d_ok = drv[sel, 2] > conf_threshold
        n_drv += int(d_ok.sum())
        if est is None:
            n_missing += int(d_ok.sum())
            continue
        est = np.asarray(est, np.float32)
        e_ok = est[sel, 2] > conf_threshold
        both = d_ok & e_ok
        n_missing += int((d_ok & ~e_ok).sum())
        if both.any():
            diff = est[sel][both, :2] - drv[sel][both, :2]
            dists.append(np.linalg.norm(diff, axis=1) * scale)
    allp = np.concatenate(dists) if dists else np.zeros(0)
    return PoseErrorResult(float(allp.mean()) if allp.size else None,
                           n_missing / n_drv if n_drv else 0.0, int(allp.size), n_drv, frames,
                           reference_height, int(frame_height))
