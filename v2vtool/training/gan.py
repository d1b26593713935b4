"""Adapter between the training loop and the model engineer's discriminators + objective.

`GanPieces(cfg, device)` builds every enabled discriminator (`build_discriminators`), loads
the VGG19 features for the perceptual term when their weights are on disk (otherwise the term
is disabled LOUDLY: a warning at start, and `perceptual_status` goes into RUN/run.json, the
first metrics record and every checkpoint's trainer_state.json), and exposes the objective's
two named-term functions with the loop's (batch, out) signature.
"""
from __future__ import annotations

import logging

import torch

from v2vtool.config import Config

log = logging.getLogger(__name__)


class GanPieces:
    def __init__(self, cfg: Config, device: torch.device):
        from v2vtool.models.discriminators import build_discriminators
        from v2vtool.models.perceptual import load_vgg19

        self.cfg = cfg
        # a plain dict: the objective looks discriminators up with .get(name)
        self.discriminators = dict(build_discriminators(cfg.generator, cfg.discriminator)
                                   .to(device).items())
        self.vgg = None
        if cfg.loss.perceptual:
            self.vgg, status = load_vgg19()
            if self.vgg is not None:
                self.vgg.to(device)
            self.perceptual_status = dict(status, weight=cfg.loss.perceptual)
        else:
            self.perceptual_status = {"enabled": False, "path": None, "weight": 0.0,
                                      "reason": "loss.perceptual = 0 in the config"}

    def d_losses(self, batch, out) -> dict[str, torch.Tensor]:
        from v2vtool.losses.objective import discriminator_losses

        return discriminator_losses(out, batch, self.discriminators, self.cfg.loss)

    def g_losses(self, batch, out) -> dict[str, torch.Tensor]:
        from v2vtool.losses.objective import generator_losses

        return generator_losses(out, batch, self.discriminators, self.cfg.loss, self.vgg)
