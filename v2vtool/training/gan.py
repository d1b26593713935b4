"""Adapter between the training loop and the model engineer's discriminators + objective.
(DEV STUB: reconstruction only until v2vtool.models.discriminators / v2vtool.losses land.)"""
from __future__ import annotations

import torch

from v2vtool.config import Config


class GanPieces:
    def __init__(self, cfg: Config, device: torch.device):
        self.cfg = cfg
        self.discriminators: dict[str, torch.nn.Module] = {}
        self.perceptual_status = {"enabled": False, "reason": "dev stub"}

    def d_losses(self, batch, out) -> dict[str, torch.Tensor]:
        return {}

    def g_losses(self, batch, out) -> dict[str, torch.Tensor]:
        return {"l1": (out.image - batch["images"]).abs().mean() * self.cfg.loss.l1}
