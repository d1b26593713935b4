"""Test-time finetuning on the K examples (paper Sec. 4, "few-shot ... with finetuning").

Each example is reconstructed from its own semantic map (single-frame, no previous frame) and
the L1 (+ VGG perceptual when its weights are on disk) reconstruction loss updates only the
weight-generation module E (encoder, attention, weight MLPs) and the image network H. The flow
and mask networks (`FlowMaskNet` modules: temporal warp and example warp) stay frozen, as the
paper prescribes (identity is kept; the reference code touched flow layers by mistake).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)


@dataclass
class FinetuneReport:
    steps: int
    lr: float
    loss_first: float  # reconstruction loss at the first step
    loss_last: float  # ... and at the last
    trainable: int  # parameters updated
    frozen: int  # parameters of the frozen flow / mask networks
    perceptual: bool  # whether the VGG term was used
    seconds: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def frozen_modules(generator: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """The flow / mask networks (W, M and the example-warp nets) of a generator."""
    from v2vtool.models.flow import FlowMaskNet

    return [(n, m) for n, m in generator.named_modules() if isinstance(m, FlowMaskNet)]


def split_parameters(generator: torch.nn.Module
                     ) -> tuple[list[torch.nn.Parameter], list[torch.nn.Parameter]]:
    """(trainable = E and H, frozen = flow / mask nets)."""
    frozen_ids = {id(p) for _, m in frozen_modules(generator) for p in m.parameters()}
    params = list(generator.parameters())
    return ([p for p in params if id(p) not in frozen_ids],
            [p for p in params if id(p) in frozen_ids])


def _perceptual(device):
    """VGG19 perceptual loss (pred, target in [-1, 1]) or None when its weights are not on
    disk (`load_vgg19` then warns loudly, once)."""
    from v2vtool.losses.perceptual import perceptual_loss
    from v2vtool.models.perceptual import load_vgg19, vgg_input_size_ok

    vgg, _ = load_vgg19()
    if vgg is None:
        return None
    vgg = vgg.to(device)

    def loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        if not vgg_input_size_ok(fake):
            return fake.new_zeros(())
        return perceptual_loss(vgg, fake, real)

    return loss


def finetune_on_examples(generator: torch.nn.Module, images: torch.Tensor,
                         semantics: torch.Tensor, steps: int, lr: float = 1e-4,
                         betas: tuple[float, float] = (0.0, 0.999), seed: int = 0,
                         perceptual_weight: float = 1.0) -> FinetuneReport:
    """Finetune `generator` in place on its examples.

    images (1, K, 3, H, W) in [-1, 1], semantics (1, K, C, H, W). Per step: `prepare` on all K
    examples (weights regenerated, so E gets gradients), then every example k is synthesised
    from s_ek alone (batch of K) and compared to e_k.
    """
    torch.manual_seed(seed)
    trainable, frozen = split_parameters(generator)
    flags = {id(p): p.requires_grad for p in generator.parameters()}
    for p in frozen:
        p.requires_grad_(False)
    for p in trainable:
        p.requires_grad_(True)
    k = images.shape[1]
    ex_img = images.expand(k, -1, -1, -1, -1)  # every sample sees all K examples
    ex_sem = semantics.expand(k, -1, -1, -1, -1)
    target, target_sem = images[0], semantics[0]  # (K, 3, H, W), (K, C, H, W)
    vgg = _perceptual(images.device) if perceptual_weight > 0 else None
    opt = torch.optim.Adam(trainable, lr=lr, betas=betas)
    generator.train()
    for _, m in frozen_modules(generator):  # frozen nets stay in eval (no spectral-norm updates)
        m.eval()
    losses = []
    t0 = time.perf_counter()
    try:
        for _ in range(steps):
            state = generator.prepare(ex_img, ex_sem)
            out = generator.step(state, target_sem, None, None)
            loss = F.l1_loss(out.image, target)
            if vgg is not None:
                loss = loss + perceptual_weight * vgg(out.image, target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    finally:
        generator.eval()
        for p in generator.parameters():
            p.requires_grad_(flags[id(p)])
    return FinetuneReport(steps, lr, losses[0] if losses else float("nan"),
                          losses[-1] if losses else float("nan"),
                          sum(p.numel() for p in trainable), sum(p.numel() for p in frozen),
                          vgg is not None, time.perf_counter() - t0)
