"""VGG19 perceptual loss (paper weight 10; layer weights 1/32, 1/16, 1/8, 1/4, 1).

The feature network comes from ``v2vtool.models.perceptual.load_vgg19`` (torchvision's file,
fetched into the torch hub cache when online); when it is None the objective leaves this term
out (the loader already warned loudly).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from v2vtool.models.perceptual import LAYER_WEIGHTS, VGG19Features


def perceptual_loss(vgg: VGG19Features, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """sum_l w_l * L1(VGG_l(fake), VGG_l(real)); fake / real (N, 3, H, W) in [-1, 1]."""
    with torch.no_grad():
        real_feats = vgg(real)
    fake_feats = vgg(fake)
    return sum(w * F.l1_loss(f, r) for w, f, r in zip(LAYER_WEIGHTS, fake_feats, real_feats))
