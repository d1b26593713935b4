"""Reconstruction metrics between a generated frame and its ground truth.

psnr / ssim / l1 take (H, W, 3) uint8 RGB numpy frames (same shape) and return a float;
sequences are scored per frame by the caller and averaged. `psnr_tensor` is the same PSNR on
float image batches in [0, 1] (training's validation).
"""
from __future__ import annotations

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from v2vtool.metrics.common import as_uint8_rgb

PSNR_CAP = 100.0  # identical images: PSNR is infinite; report this cap instead (JSON has no inf)


def check_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both frames as validated (H, W, 3) uint8 of the same shape (ValueError otherwise)."""
    a, b = as_uint8_rgb(a, "generated"), as_uint8_rgb(b, "truth")
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: generated {a.shape} vs truth {b.shape}")
    return a, b


def psnr(generated: np.ndarray, truth: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB (data range 255), capped at PSNR_CAP for equal images."""
    a, b = check_pair(generated, truth)
    if np.array_equal(a, b):
        return PSNR_CAP
    return float(min(PSNR_CAP, peak_signal_noise_ratio(b, a, data_range=255)))


def psnr_tensor(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per image PSNR (dB) of images in [0, 1], (N, 3, H, W) -> (N,), capped at PSNR_CAP."""
    mse = ((a - b) ** 2).flatten(1).mean(1).clamp_min(10 ** (-PSNR_CAP / 10))
    return 10 * torch.log10(1.0 / mse)


def ssim(generated: np.ndarray, truth: np.ndarray) -> float:
    """Structural similarity (scikit-image, Gaussian-free default 7x7 window, channel axis 2)."""
    a, b = check_pair(generated, truth)
    win = min(7, a.shape[0], a.shape[1])
    win -= (win + 1) % 2  # odd
    return float(structural_similarity(b, a, data_range=255, channel_axis=2, win_size=win))


def l1(generated: np.ndarray, truth: np.ndarray) -> float:
    """Mean absolute difference on the [0, 1] intensity scale."""
    a, b = check_pair(generated, truth)
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean() / 255.0)
