"""Masked reconstruction metrics: is the person right, and is the rest free of ghosts?

Both compare a generated frame with its truth using the TRUE person mask of the truth frame
(clip dirs' masks/, or the benchmark's `render_identity`):

- `person_psnr`: PSNR over the pixels inside the true mask only ("person fidelity"): how well
  the person's own appearance is reproduced, not diluted by the (easy) background.
- `ghost_l1`: mean absolute error, on the [0, 1] scale like `l1`, over the pixels outside the
  true mask dilated by `ghost_margin(size)` px ("ghosts and background"): semi-transparent
  copies of the example left where the person is not, smears, a wrong background. The margin
  (a disk of radius round(min(H, W) / 32): 4 px at 128, 8 px at 256, 16 px at 512) keeps the
  unavoidable blur around a correctly placed silhouette out of it.

Frames with an empty mask (nobody visible) have no person PSNR, and frames whose dilated mask
covers everything have no ghost error: both return None for them (averaged over the others).
"""
from __future__ import annotations

import cv2
import numpy as np

from v2vtool.metrics.reconstruction import PSNR_CAP, check_pair

GHOST_MARGIN_DIVISOR = 32  # dilation radius = round(min(H, W) / 32) px


def ghost_margin(size: tuple[int, int]) -> int:
    """Dilation radius (px) of the true mask for `ghost_l1` at frame size (w, h)."""
    return max(1, round(min(size) / GHOST_MARGIN_DIVISOR))


def mask_of(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A person mask ((H, W) or (H, W, C), nonzero = person) as a boolean (H, W) that must
    match the frame's `shape` (ValueError otherwise)."""
    m = np.asarray(mask)
    if m.ndim == 3:
        m = m[..., 0]
    if m.shape != shape[:2]:
        raise ValueError(f"mask {m.shape} does not match the frame {shape[:2]}")
    return m > 0


def person_psnr(generated: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float | None:
    """PSNR (dB, data range 255, capped at PSNR_CAP) over the pixels where `mask` > 0."""
    a, b = check_pair(generated, truth)
    inside = mask_of(mask, a.shape)
    if not inside.any():
        return None
    diff = a[inside].astype(np.float64) - b[inside].astype(np.float64)
    mse = float(np.mean(diff ** 2))
    if mse == 0.0:
        return PSNR_CAP
    return float(min(PSNR_CAP, 10.0 * np.log10(255.0 ** 2 / mse)))


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Boolean mask grown by a disk of `radius` px."""
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), disk) > 0


def ghost_l1(generated: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float | None:
    """Mean |generated - truth| / 255 over the pixels outside the dilated true mask."""
    a, b = check_pair(generated, truth)
    grown = dilate(mask_of(mask, a.shape), ghost_margin((a.shape[1], a.shape[0])))
    outside = ~grown
    if not outside.any():
        return None
    diff = np.abs(a[outside].astype(np.float32) - b[outside].astype(np.float32))
    return float(diff.mean() / 255.0)
