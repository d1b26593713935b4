"""Hinge GAN losses (paper: loss weight 1) over discriminator feature lists.

Inputs are ``Features`` = [scale][layer] lists whose last entry per scale is the patch logits;
the loss is averaged over patches and summed over scales.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

Features = list[list[torch.Tensor]]


def d_hinge_loss(real: Features, fake: Features) -> torch.Tensor:
    """D: sum_s mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))."""
    return sum(F.relu(1 - r[-1]).mean() + F.relu(1 + f[-1]).mean() for r, f in zip(real, fake))


def g_hinge_loss(fake: Features) -> torch.Tensor:
    """G: sum_s -mean(D(fake))."""
    return sum(-f[-1].mean() for f in fake)
