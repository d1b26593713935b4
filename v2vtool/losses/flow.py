"""Flow, warp and occlusion-mask losses (paper / vid2vid, weights 10 each).

Conventions (``v2vtool.models.warp``): flow_t maps frame t to frame t-1, i.e.
frame_t(p) ~= frame_{t-1}(p + flow_t(p)), in pixels; mask m = 1 -> synthesised, 0 -> warped.
"""
from __future__ import annotations

import torch

from v2vtool.losses.reconstruction import l1_loss
from v2vtool.models.warp import warp


def flow_loss(flow: torch.Tensor, target: torch.Tensor, confidence: torch.Tensor | None = None
              ) -> torch.Tensor:
    """L1 between predicted flow (N, 2, H, W) and ground-truth flow between real frames,
    averaged where ``confidence`` (N, 1, H, W) says the ground truth is reliable."""
    return l1_loss(flow, target, confidence)


def warp_loss(prev_real: torch.Tensor, flow: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """L1 between the previous real frame warped by the predicted flow and the real frame
    (N, 3, H, W): trains W on real motion independent of the generator's current quality."""
    return l1_loss(warp(prev_real, flow), real)


def mask_loss(mask: torch.Tensor, confidence: torch.Tensor) -> torch.Tensor:
    """Occlusion mask (N, 1, H, W) vs 1 - confidence: m -> 0 where warping is right
    (confidence 1), m -> 1 in disocclusions / where the flow is unreliable (confidence 0)."""
    return l1_loss(mask, 1.0 - confidence.to(mask.dtype))
