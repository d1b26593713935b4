"""Body pose: mediapipe Pose / Holistic (33 BlazePose landmarks + hands + face mesh) -> OpenPose
BODY_25 (+ 2 x 21 hand points, + 70 face points).

BODY_25 <- BlazePose mapping (`BODY25_FROM_BLAZEPOSE`; "R"/"L" = the subject's right/left):

    0 Nose <- 0 nose            1 Neck <- midpoint of 11/12 (shoulders)
    2 RShoulder <- 12           3 RElbow <- 14       4 RWrist <- 16
    5 LShoulder <- 11           6 LElbow <- 13       7 LWrist <- 15
    8 MidHip <- midpoint of 23/24 (hips)
    9 RHip <- 24    10 RKnee <- 26    11 RAnkle <- 28
    12 LHip <- 23   13 LKnee <- 25    14 LAnkle <- 27
    15 REye <- 5    16 LEye <- 2      17 REar <- 8     18 LEar <- 7
    19 LBigToe <- 31 left_foot_index  20 LSmallToe: not estimated (confidence 0)
    21 LHeel <- 29                     22 RBigToe <- 32 right_foot_index
    23 RSmallToe: not estimated (confidence 0)            24 RHeel <- 30

BlazePose has one toe point per foot (foot_index, at the big-toe side); OpenPose's small toes
have no counterpart and are left missing rather than invented.
Confidence = BlazePose visibility; points with visibility < `MIN_VISIBILITY` or outside the
frame are set missing (0, 0, 0), like OpenPose's undetected joints. Derived points (Neck,
MidHip) take the smaller confidence of their two sources and are missing if either is.
Hands: mediapipe's 21 hand landmarks are already in OpenPose's hand order (wrist, then 4 per
finger from thumb to little finger); Holistic names hands by the subject's side, as OpenPose.
"""
from __future__ import annotations

import numpy as np

from v2vtool.semantics.face import in_frame

MIN_VISIBILITY = 0.2
# BODY_25 index -> BlazePose index (None: derived or not estimated)
BODY25_FROM_BLAZEPOSE: tuple[int | None, ...] = (
    0, None, 12, 14, 16, 11, 13, 15, None, 24, 26, 28, 23, 25, 27, 5, 2, 8, 7,
    31, None, 29, 32, None, 30,
)
DERIVED = {1: (11, 12), 8: (23, 24)}  # Neck, MidHip: midpoints of BlazePose pairs


def blazepose_to_body25(bp: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(33, 3) BlazePose (x px, y px, visibility) -> (25, 3) BODY_25 (x, y, confidence)."""
    bp = bp.copy()
    ok = (bp[:, 2] >= MIN_VISIBILITY) & in_frame(bp[:, :2], size)
    bp[~ok] = 0
    out = np.zeros((25, 3), np.float32)
    for i, j in enumerate(BODY25_FROM_BLAZEPOSE):
        if j is not None:
            out[i] = bp[j]
    for i, (a, b) in DERIVED.items():
        if bp[a, 2] > 0 and bp[b, 2] > 0:
            out[i, :2] = (bp[a, :2] + bp[b, :2]) / 2
            out[i, 2] = min(bp[a, 2], bp[b, 2])
    return out


def hand21(points: np.ndarray | None, size: tuple[int, int]) -> np.ndarray:
    """(21, >=2) mediapipe hand landmarks in pixels (or None) -> (21, 3) OpenPose hand."""
    out = np.zeros((21, 3), np.float32)
    if points is None:
        return out
    out[:, :2] = points[:, :2]
    out[:, 2] = in_frame(out[:, :2], size).astype(np.float32)
    out[out[:, 2] == 0, :2] = 0
    return out
