"""The halo: error in the ring where the examples' own person stood and the driven person does
not.

A warp-based model moves the example's person to the driving pose; what it must invent is the
background the person uncovered. A flat or smeared fill there shows as a person-shaped halo
(a "ghost") around the output. `ring_l1` measures exactly that region:

    ring_t = E \\ dilate(M_t, margin)
    ring error = mean over ring_t pixels (and channels) of |G_t - T_t| / 255

E (`examples_region`) is the union over the K examples of each example's person mask mapped
into the output frame with the synthesizer's background alignment (`Synthesizer.background`,
(K, 2, 3) output px -> example px: examples and driver are frames of one camera); M_t is the
truth's person mask, dilated by `ring_margin` px (as the ghost error's margin: 4 px at 128)
so that the unavoidable blur around a correctly placed silhouette stays out. Frames whose ring
is empty (the person did not move off its example position) have no ring error (None).
"""
from __future__ import annotations

import cv2
import numpy as np

from v2vtool.metrics.masked import dilate, ghost_margin, mask_of
from v2vtool.metrics.reconstruction import check_pair


def ring_margin(size: tuple[int, int]) -> int:
    """Dilation (px) of the truth's person mask at frame size (w, h): the ghost error's."""
    return ghost_margin(size)


def examples_region(example_masks: list[np.ndarray], background: np.ndarray | None,
                    size: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: where any example's own person stands, seen in the output frame.

    example_masks: K person masks, each in its example's pixels at the output size (nonzero =
    person); background: (K, 2, 3) affine output px -> example px, or None (the examples are
    already in the output frame)."""
    w, h = size
    region = np.zeros((h, w), bool)
    for k, m in enumerate(example_masks):
        inside = mask_of(m, (h, w)).astype(np.uint8)
        if background is not None:
            inside = cv2.warpAffine(inside, np.asarray(background[k], np.float32), (w, h),
                                    flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        region |= inside > 0
    return region


def ring_mask(truth_mask: np.ndarray, region: np.ndarray, margin: int | None = None
              ) -> np.ndarray:
    """(H, W) bool ring: `region` minus the truth's person mask dilated by `margin` px."""
    region = np.asarray(region, bool)
    h, w = region.shape
    margin = ring_margin((w, h)) if margin is None else margin
    return region & ~dilate(mask_of(truth_mask, (h, w)), margin)


def ring_l1(generated: np.ndarray, truth: np.ndarray, truth_mask: np.ndarray,
            region: np.ndarray, margin: int | None = None) -> float | None:
    """Mean |generated - truth| / 255 over the ring (module docstring); None if it is empty."""
    a, b = check_pair(generated, truth)
    ring = ring_mask(truth_mask, region, margin)
    if ring.shape != a.shape[:2]:
        raise ValueError(f"examples region {ring.shape} does not match the frame {a.shape[:2]}")
    if not ring.any():
        return None
    diff = np.abs(a[ring].astype(np.float32) - b[ring].astype(np.float32))
    return float(diff.mean() / 255.0)
