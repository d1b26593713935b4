"""Plain pixel reconstruction loss."""
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
