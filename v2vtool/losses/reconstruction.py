"""Pixel reconstruction losses: L1, and L1 on image gradients (edges)."""
from __future__ import annotations

import torch


def l1_loss(fake: torch.Tensor, real: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean |fake - real|; with ``weight`` (broadcastable, e.g. (N, 1, H, W) in [0, 1]) the
    weighted mean sum(w |d|) / sum(w * C) (0 when the weight is all zero)."""
    diff = (fake - real).abs()
    if weight is None:
        return diff.mean()
    weight = weight.to(diff.dtype).expand_as(diff)
    return (diff * weight).sum() / weight.sum().clamp(min=1.0)


def gradient_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean |d fake - d real| over the horizontal and vertical finite differences of images
    (..., C, H, W). A blurred edge costs as much as a misplaced one: where the VGG19
    perceptual term is unavailable this is what keeps L1 from paying for blur."""
    dx = (fake[..., :, 1:] - fake[..., :, :-1]) - (real[..., :, 1:] - real[..., :, :-1])
    dy = (fake[..., 1:, :] - fake[..., :-1, :]) - (real[..., 1:, :] - real[..., :-1, :])
    return 0.5 * (dx.abs().mean() + dy.abs().mean())
