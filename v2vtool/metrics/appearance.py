"""Identity / appearance score of the person region (cross-identity animation has no truth
frame, so what can be measured is whether the output still looks like the example's person).

    identity = Hellinger distance between two colour histograms:
      p = 3-D RGB histogram (BINS = 8 per channel, 512 cells) of the example's person pixels
          (its person mask, eroded by `erode_px`),
      q = the same histogram of the output's pixels inside the region where the driven person
          stands, pooled over all scored frames (the region eroded the same way),
      H(p, q) = sqrt(1 - sum_i sqrt(p_i q_i)), p and q normalised to sum 1.
0 = the same colour distribution; 1 = no colour in common. The score says nothing about pose
or shape (that is the pose error's job) and cannot tell two people dressed alike apart: read
it next to the protocol's two references, the example clip's own person in its other frames
(what keeping the identity perfectly scores, given light and pose changes) and the driver's
own person (what a complete identity swap scores).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import cv2
import numpy as np

from v2vtool.metrics.masked import mask_of

BINS = 8  # per channel


def erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Boolean mask shrunk by a disk of `radius` px (0: unchanged)."""
    m = np.asarray(mask) > 0
    if radius <= 0:
        return m
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.erode(m.astype(np.uint8), disk) > 0


def erode_px(size: tuple[int, int]) -> int:
    """Erosion of person regions at frame size (w, h): 2 px at 128 (edge pixels mix in the
    background)."""
    return max(1, round(min(size) / 64))


def rgb_histogram(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(BINS ** 3,) float64 counts of the RGB colours of `image` (H, W, 3) uint8 where
    `mask` is nonzero."""
    inside = mask_of(mask, image.shape)
    px = image[inside].astype(np.int64) * BINS // 256  # (N, 3) bin per channel
    cells = (px[:, 0] * BINS + px[:, 1]) * BINS + px[:, 2]
    return np.bincount(cells, minlength=BINS ** 3).astype(np.float64)


def hellinger(p: np.ndarray, q: np.ndarray) -> float | None:
    """Hellinger distance of two histograms (counts; normalised here); None if either is
    empty."""
    sp, sq = float(p.sum()), float(q.sum())
    if sp <= 0 or sq <= 0:
        return None
    bc = float(np.sqrt(p / sp * (q / sq)).sum())
    return float(np.sqrt(max(0.0, 1.0 - bc)))


@dataclass
class AppearanceInputs:
    """What the identity score compares: the example person's histogram and, per scored
    frame, the (already eroded) region of the output where the driven person stands."""

    reference: np.ndarray  # (BINS ** 3,) counts of the example's person pixels
    regions: list  # per frame (H, W) masks, nonzero = person region


def appearance_distance(frames: Iterable[np.ndarray], inputs: AppearanceInputs) -> dict:
    """{"identity": H(example, pooled output region), "identity_pixels": pixels pooled}.
    ValueError when there is nothing to compare (no example pixels, or empty regions)."""
    pooled = np.zeros(BINS ** 3, np.float64)
    for frame, region in zip(frames, inputs.regions):
        pooled += rgb_histogram(frame, region)
    d = hellinger(inputs.reference, pooled)
    if d is None:
        raise ValueError("no person pixels to compare (empty example mask or regions)")
    return {"identity": d, "identity_pixels": int(pooled.sum())}
