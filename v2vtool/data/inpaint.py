"""Hole filling for backgrounds: where a person stood, or what lies beyond a frame's edge, as the
scene probably looks there (a classical inpainter, no learning).

`inpaint(image, hole)` fills the hole pixels of an (H, W, 3) uint8 image from the pixels around
them with OpenCV's fast-marching inpainter (Telea 2004): colours and edges are propagated inward
from the hole's border, so a wall stays a wall instead of becoming the flat mean colour a
push-pull fill gives. Far from the border Telea only smears the border's last pixels along the
marching direction (streaks, like edge replication); so the fill is blurred more the farther a
pixel lies from known ones (Gaussian sigma = `far_blur` x distance): sharp continuation at the
border, a smooth colour field deep inside a wide hole or an extension past a frame's edge. Wide
holes are filled on a copy scaled down to at most `work_side` px (the fill is smooth at that
scale anyway, and the cost grows with hole area x radius^2), then scaled back up; the known
pixels are never changed.
"""
from __future__ import annotations

import cv2
import numpy as np

WORK_SIDE = 256  # the fill runs on a copy no larger than this (long side, px)
FAR_BLUR = 0.6  # blur sigma per pixel of distance from the nearest known pixel


def inpaint(image: np.ndarray, hole: np.ndarray, radius: int = 5,
            work_side: int = WORK_SIDE, far_blur: float = FAR_BLUR) -> np.ndarray:
    """image (H, W, 3) uint8, hole (H, W) bool / {0, >0} -> (H, W, 3) uint8 with the hole
    filled (Telea fast marching, blurred with the distance from known pixels by `far_blur`; 0:
    plain Telea) and every other pixel unchanged. An empty hole returns a copy; a hole covering
    the whole image (nothing to fill from) returns the image's mean colour there."""
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
        filled = _fill(small, small_hole, radius, far_blur)
        filled = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        filled = _fill(image, hole, radius, far_blur)
    out[hole] = filled[hole]
    return out


def _fill(image: np.ndarray, hole: np.ndarray, radius: int, far_blur: float) -> np.ndarray:
    filled = cv2.inpaint(image, hole.astype(np.uint8), radius, cv2.INPAINT_TELEA)
    return blur_with_distance(filled, hole, far_blur) if far_blur > 0 else filled


def blur_with_distance(image: np.ndarray, hole: np.ndarray, factor: float) -> np.ndarray:
    """Hole pixels of `image` blurred with sigma = factor x their distance to the nearest known
    pixel (interpolated between Gaussian levels sigma = 1, 2, 4, ...); known pixels kept."""
    dist = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 5)
    want = dist[hole] * factor
    src = image.astype(np.float32)
    flat = src[hole]  # (N, 3) at sigma 0
    out, sigma, lo = flat.copy(), 1.0, 0.0
    while lo < want.max():
        level = cv2.GaussianBlur(src, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)[hole]
        t = np.clip((want - lo) / (sigma - lo), 0, 1)[:, None]  # linear in sigma in [lo, sigma]
        inside = (want > lo)[:, None]
        out = np.where(inside, flat * (1 - t) + level * t, out)
        flat, lo, sigma = level, sigma, sigma * 2
    res = image.copy()
    res[hole] = np.clip(out.round(), 0, 255).astype(np.uint8)
    return res
