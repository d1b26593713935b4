"""Hole filling for backgrounds: where a person stood, what the scene behind them probably looks
like (a classical inpainter, no learning).

`inpaint(image, hole)` fills the hole pixels of an (H, W, 3) uint8 image from the pixels around
them with OpenCV's fast-marching inpainter (Telea 2004): colours and edges are propagated inward
from the hole's border, so a wall stays a wall instead of becoming the flat mean colour a
push-pull fill gives. Wide holes are filled on a copy scaled down to at most `work_side` px (the
fill is smooth at that scale anyway, and the cost grows with hole area x radius^2), then scaled
back up; the known pixels are never changed.
"""
from __future__ import annotations

import cv2
import numpy as np

WORK_SIDE = 256  # the fill runs on a copy no larger than this (long side, px)


def inpaint(image: np.ndarray, hole: np.ndarray, radius: int = 5,
            work_side: int = WORK_SIDE) -> np.ndarray:
    """image (H, W, 3) uint8, hole (H, W) bool / {0, >0} -> (H, W, 3) uint8 with the hole
    filled (Telea fast marching) and every other pixel unchanged. An empty hole returns a copy;
    a hole covering the whole image (nothing to fill from) returns the image's mean colour
    there."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"inpaint: expected (H, W, 3) uint8, got {image.shape} {image.dtype}")
    hole = np.asarray(hole) > 0
    if hole.shape != image.shape[:2]:
        raise ValueError(f"inpaint: hole {hole.shape} does not match image {image.shape[:2]}")
    out = image.copy()
    if not hole.any():
        return out
    if hole.all():
        out[:] = image.reshape(-1, 3).mean(0).round().astype(np.uint8)
        return out
    h, w = hole.shape
    scale = min(1.0, work_side / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        # a small pixel is a hole if any of the pixels it covers is (no person colour leaks in)
        small_hole = cv2.resize(hole.astype(np.uint8) * 255, size, interpolation=cv2.INTER_AREA) > 0
        filled = cv2.inpaint(small, small_hole.astype(np.uint8), radius, cv2.INPAINT_TELEA)
        filled = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        filled = cv2.inpaint(image, hole.astype(np.uint8), radius, cv2.INPAINT_TELEA)
    out[hole] = filled[hole]
    return out
