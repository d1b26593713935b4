"""AKD and MKR (FOMM, NeurIPS 2019): keypoints found on the output against keypoints found on
the real frame by the SAME estimator.

- AKD (average keypoint distance): mean Euclidean distance between a joint found on the output
  and the same joint found on the truth, over the joints found in both, in px of frames
  `reference_height` tall (the real protocol reports it at the view's own height).
- MKR (missing keypoint rate): the joints found on the truth but not on the output / the joints
  found on the truth.
Frames where the estimator finds nobody on the truth are skipped and counted
(`truth_nobody`); where it finds nobody on the output but joints on the truth, every such joint
counts as missing (`output_nobody`). This is `pose_error` (metrics/pose.py) with the truth's
estimated pose in place of the driving pose, plus those counts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from v2vtool.metrics.pose import pose_error


@dataclass(frozen=True)
class KeypointDistance:
    akd: float | None  # None: no joint found on both sides in any frame
    mkr: float  # 0 when the truth has no joints at all
    joints_compared: int
    truth_joints: int
    frames: int
    frames_compared: int  # frames with at least one joint found on both
    truth_nobody: int  # frames without a (usable) detection on the truth: skipped
    output_nobody: int  # frames with joints on the truth and nobody on the output
    reference_height: int
    frame_height: int

    def to_dict(self) -> dict:
        return {"akd": self.akd, "mkr": self.mkr, "akd_joints": self.joints_compared,
                "akd_truth_joints": self.truth_joints, "akd_frames": self.frames_compared,
                "akd_truth_nobody": self.truth_nobody, "akd_output_nobody": self.output_nobody,
                "akd_reference_height": self.reference_height}


def _found(pose, sel: np.ndarray) -> np.ndarray:
    if pose is None:
        return np.zeros(len(sel), bool)
    return np.asarray(pose, np.float32)[sel, 2] > 0


def keypoint_distance(output_poses: Iterable[np.ndarray | None],
                      truth_poses: Iterable[np.ndarray | None], frame_height: int,
                      reference_height: int, joints: Sequence[int] | None = None
                      ) -> KeypointDistance:
    """output_poses / truth_poses: per frame a (J, 3) array (x, y, conf; conf 0 = not found)
    in px of frames `frame_height` tall, or None (nobody found); joints: the indices the
    estimator can produce (others ignored)."""
    out, tru = list(output_poses), list(truth_poses)
    res = pose_error(out, tru, frame_height=frame_height, reference_height=reference_height,
                     joints=joints)
    n = max((len(p) for p in out + tru if p is not None), default=0)
    sel = np.arange(n) if joints is None else np.asarray(joints)
    truth_nobody = output_nobody = compared = 0
    for o, t in zip(out, tru):
        t_ok, o_ok = _found(t, sel), _found(o, sel)
        if not t_ok.any():
            truth_nobody += 1
        elif not o_ok.any():
            output_nobody += 1
        elif (t_ok & o_ok).any():
            compared += 1
    return KeypointDistance(res.error, res.missing_rate, res.joints_compared, res.driving_joints,
                            res.frames, compared, truth_nobody, output_nobody, reference_height,
                            int(frame_height))
