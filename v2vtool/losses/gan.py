"""Hinge GAN losses (paper: loss weight 1) over discriminator feature lists.

Inputs are ``Features`` = [scale][layer] lists whose last entry per scale is the patch logits;
the loss is averaged over patches and summed over scales. ``weights`` (N,) (e.g. 0 / 1 for
invalid / valid face crops) turn the average into a weighted mean over the N samples (0 when
all weights are 0), so that callers can mask samples without a data-dependent (host-syncing)
boolean index.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

Features = list[list[torch.Tensor]]


def _mean(x: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    if weights is None:
        return x.mean()
    per_sample = x.flatten(1).mean(dim=1)
    w = weights.to(per_sample.dtype)
    return (per_sample * w).sum() / w.sum().clamp(min=1.0)


def d_hinge_loss(real: Features, fake: Features, weights: torch.Tensor | None = None
                 ) -> torch.Tensor:
    """D: sum_s mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))."""
    return sum(_mean(F.relu(1 - r[-1]), weights) + _mean(F.relu(1 + f[-1]), weights)
               for r, f in zip(real, fake))


def g_hinge_loss(fake: Features, weights: torch.Tensor | None = None) -> torch.Tensor:
    """G: sum_s -mean(D(fake))."""
    return sum(-_mean(f[-1], weights) for f in fake)
