"""Person-region sharpness: does the output keep the truth's detail, or smear it?

`gradient_energy` is the squared gradient magnitude of a frame's luma (3x3 Sobel, scaled to
the derivative per pixel of intensities on [0, 1]). `sharpness_sums` sums it inside the TRUE
person mask for the generated frame and for the truth; `sharpness_ratio` turns the sums of a
whole sequence into one number, the ratio of sums over frames and pixels:

    sharpness = sum_t sum_{p in M_t} |grad G_t(p)|^2 / sum_t sum_{p in M_t} |grad T_t(p)|^2

1 = as much detail as the truth (an identical copy scores exactly 1); a smear reads below 1;
noise or ringing above it. The gradient is taken on the whole frame before masking, so the
person's outline counts too.
"""
from __future__ import annotations

import cv2
import numpy as np

from v2vtool.metrics.masked import mask_of
from v2vtool.metrics.reconstruction import check_pair


def gradient_energy(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W) float64 squared gradient magnitude of the luma on [0, 1]."""
    luma = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    gx = cv2.Sobel(luma, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT) / 8.0
    gy = cv2.Sobel(luma, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT) / 8.0
    return (gx.astype(np.float64) ** 2 + gy.astype(np.float64) ** 2)


def sharpness_sums(generated: np.ndarray, truth: np.ndarray, mask: np.ndarray
                   ) -> tuple[float, float] | None:
    """(generated, truth) gradient energy summed inside the true person mask; None when the
    mask is empty (nobody in this frame)."""
    a, b = check_pair(generated, truth)
    inside = mask_of(mask, a.shape)
    if not inside.any():
        return None
    return float(gradient_energy(a)[inside].sum()), float(gradient_energy(b)[inside].sum())


def sharpness_ratio(sums: list[tuple[float, float]]) -> float | None:
    """Ratio of the summed energies of a sequence (module docstring); None when the truth has
    no gradient at all inside its masks."""
    gen = sum(s[0] for s in sums)
    tru = sum(s[1] for s in sums)
    return gen / tru if tru > 0 else None
