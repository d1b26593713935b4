"""Segmentation label maps: import 8-bit maps of class ids (Cityscapes-style), view with a palette.

The stored semantics are the class ids themselves ((H, W) uint8; 255 = ignore). `colorize`
renders them with a fixed palette for viewing only: the 19 Cityscapes train-id colours for
ids 0-18, a bit-interleaved colour code (as in PASCAL VOC's colour map) for other ids (all
distinct), and black for 255.
"""
from __future__ import annotations

import numpy as np

from v2vtool.semantics.extractor_base import Detection, Extractor

CITYSCAPES_COLORS = (
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
    (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152),
    (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100),
    (0, 80, 100), (0, 0, 230), (119, 11, 32),
)


def _bit_palette(i: int) -> tuple[int, int, int]:
    r = g = b = 0
    for shift in range(8):
        r |= ((i >> 0) & 1) << (7 - shift)
        g |= ((i >> 1) & 1) << (7 - shift)
        b |= ((i >> 2) & 1) << (7 - shift)
        i >>= 3
    return r, g, b


def make_palette() -> np.ndarray:
    """(256, 3) uint8 colour for every class id."""
    colors = list(CITYSCAPES_COLORS)
    used = set(colors) | {(0, 0, 0)}
    j = 1
    while len(colors) < 255:  # further ids: the bit code, skipping colours already taken
        c = _bit_palette(j)
        j += 1
        if c not in used:
            colors.append(c)
            used.add(c)
    return np.array(colors + [(0, 0, 0)], np.uint8)


PALETTE = make_palette()
PALETTE.flags.writeable = False


def colorize(ids: np.ndarray) -> np.ndarray:
    """(H, W) uint8 class ids -> (H, W, 3) uint8 RGB view."""
    return PALETTE[ids]


class LabelMapImporter(Extractor):
    """'Extracts' segmentation from a label map: the semantics are the ids, unchanged.

    Input to `__call__` is an (H, W) uint8 id map (read with `open_video(..., mode="ids")`).
    """

    kind = "segmentation"
    name = "label-map-import"
    version = "1"
    has_keypoints = False

    def __init__(self) -> None:
        self.settings: dict = {}

    def __call__(self, ids: np.ndarray) -> Detection:
        if ids.ndim != 2:
            raise ValueError(f"expected an (H, W) id map, got shape {ids.shape}")
        return Detection([], np.ascontiguousarray(ids, np.uint8), None)
