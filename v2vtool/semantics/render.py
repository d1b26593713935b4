"""Keypoints -> semantic maps, the one renderer every stage uses (extract, data, train, synthesize).

- pose: OpenPose-style coloured limb map (H, W, 3) uint8: BODY_25 limbs, one colour per limb
  (left and right differ), plus hands and face contours when found.
- face: the paper's face sketch (H, W) uint8: jaw, brows, nose, eyes, lips drawn as curves of
  the 68-point iBUG layout.
`map_to_tensor` turns any stored map into the network input (C, H, W) float in [0, 1]
(one-hot for class-id maps). Rendering is deterministic (same input -> same bytes).
Which renderer belongs to which kind is stated once, in `v2vtool.semantics.kinds`.
"""
from __future__ import annotations

import colorsys

import cv2
import numpy as np
import torch

from v2vtool.io.keypoints import Frame, Person

# BODY_25 limbs (joint index pairs); drawn in this order, so later limbs are on top.
BODY_25_LIMBS = (
    (1, 8), (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11),
    (8, 12), (12, 13), (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18),
    (14, 19), (19, 20), (14, 21), (11, 22), (22, 23), (11, 24),
)
LIMB_COLORS = tuple(
    tuple(int(255 * c) for c in colorsys.hsv_to_rgb(i / len(BODY_25_LIMBS), 1.0, 1.0))
    for i in range(len(BODY_25_LIMBS))
)
HAND_CHAINS = tuple(tuple([0] + list(range(1 + 4 * f, 5 + 4 * f))) for f in range(5))
HAND_COLORS = ((255, 128, 128), (128, 255, 128))  # left, right
# 68-point face: (start, end, closed) runs of the iBUG layout.
FACE_CURVES = (
    (0, 17, False),   # jaw
    (17, 22, False),  # right brow
    (22, 27, False),  # left brow
    (27, 31, False),  # nose bridge
    (31, 36, False),  # nostrils
    (36, 42, True),   # right eye
    (42, 48, True),   # left eye
    (48, 60, True),   # outer lips
    (60, 68, True),   # inner lips
)
MIN_CONFIDENCE = 0.05


def line_width(size: tuple[int, int]) -> int:
    """Limb thickness that scales with resolution (2 px at 128, 4 px at 256)."""
    return max(1, round(min(size) / 64))


def _pt(p: np.ndarray, shift: int) -> tuple[int, int]:
    return int(round(p[0] * (1 << shift))), int(round(p[1] * (1 << shift)))


def _draw_chain(img, pts: np.ndarray, idx, color, width: int, closed: bool = False) -> None:
    shift = 4
    seq = list(idx) + ([idx[0]] if closed else [])
    for a, b in zip(seq[:-1], seq[1:]):
        if pts[a, 2] > MIN_CONFIDENCE and pts[b, 2] > MIN_CONFIDENCE:
            cv2.line(img, _pt(pts[a], shift), _pt(pts[b], shift), color, width, cv2.LINE_AA,
                     shift)


def _scaled(person: Person, scale: tuple[float, float]) -> Person:
    return person.transformed(np.asarray(scale, np.float32), np.zeros(2, np.float32))


def render_pose(frame: Frame, size: tuple[int, int], scale: tuple[float, float] = (1.0, 1.0),
                ) -> np.ndarray:
    """BODY_25 (+ hands, face) limb map. size = (W, H); keypoints are multiplied by `scale`."""
    w, h = size
    img = np.zeros((h, w, 3), np.uint8)
    width = line_width(size)
    for person in frame:
        p = _scaled(person, scale)
        for (a, b), color in zip(BODY_25_LIMBS, LIMB_COLORS):
            _draw_chain(img, p.pose, (a, b), color, width)
        for hand, color in ((p.hand_left, HAND_COLORS[0]), (p.hand_right, HAND_COLORS[1])):
            for chain in HAND_CHAINS:
                _draw_chain(img, hand, chain, color, max(1, width // 2))
        for start, end, closed in FACE_CURVES:
            _draw_chain(img, p.face, tuple(range(start, end)), (255, 255, 255),
                        max(1, width // 2), closed)
    return img


def render_face(frame: Frame, size: tuple[int, int], scale: tuple[float, float] = (1.0, 1.0),
                ) -> np.ndarray:
    """Face sketch (H, W) uint8: the 68 landmarks joined into curves (paper: 1-channel edges)."""
    w, h = size
    img = np.zeros((h, w), np.uint8)
    width = line_width(size)
    for person in frame:
        p = _scaled(person, scale)
        for start, end, closed in FACE_CURVES:
            _draw_chain(img, p.face, tuple(range(start, end)), 255, width, closed)
    return img


def map_to_tensor(semantic: np.ndarray, one_hot_classes: int | None = None) -> torch.Tensor:
    """Stored semantic map -> network input (C, H, W) float32 in [0, 1].

    (H, W, 3) -> 3 channels, (H, W) -> 1 (uint8 / 255); with `one_hot_classes` = n the map holds
    class ids and becomes a one-hot (n, H, W) (ids >= n, e.g. 255 'ignore', map to all zeros).
    Which applies to a kind is in its registry record (`SemanticKind.to_tensor`).
    """
    arr = torch.from_numpy(np.ascontiguousarray(semantic))
    if one_hot_classes is not None:
        n_classes = one_hot_classes
        ids = arr.long()
        valid = ids < n_classes
        onehot = torch.zeros(n_classes, *ids.shape, dtype=torch.float32)
        onehot.scatter_(0, (ids * valid).unsqueeze(0), valid.unsqueeze(0).float())
        return onehot
    if arr.ndim == 2:
        arr = arr.unsqueeze(-1)
    return arr.permute(2, 0, 1).float() / 255.0
