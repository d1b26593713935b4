"""Discriminator feature matching (pix2pixHD; paper weight 10)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

Features = list[list[torch.Tensor]]


def feature_matching_loss(real: Features, fake: Features) -> torch.Tensor:
    """Mean over scales of the summed L1 between D's intermediate features (logits excluded)
    of real (detached) and fake inputs."""
    total = fake[0][0].new_zeros(())
    for r, f in zip(real, fake):
        for rl, fl in zip(r[:-1], f[:-1]):
            total = total + F.l1_loss(fl, rl.detach())
    return total / max(len(fake), 1)
