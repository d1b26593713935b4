"""Test-time finetuning on the K examples (paper Sec. 4, "few-shot ... with finetuning").

Each example is reconstructed from its own semantic map (single-frame, no previous frame) and
the L1 (+ VGG perceptual when its weights are on disk) reconstruction loss updates only the
weight-generation module E (encoder, attention, weight MLPs) and the image network H: the
generator's `finetune_parameters()`. The flow and mask networks (temporal warp, example warp and
its per-pixel selection) stay frozen, as the paper prescribes (identity is kept; the reference
code touched flow layers by mistake).
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


def split_parameters(generator: torch.nn.Module
                     ) -> tuple[list[torch.nn.Parameter], list[torch.nn.Parameter]]:
    """(trainable = the generator's finetune_parameters(): E and H, frozen = the rest)."""
    chosen = {id(p) for p in generator.finetune_parameters()}
    params = list(generator.parameters())
    return ([p for p in params if id(p) in chosen], [p for p in params if id(p) not in chosen])


def frozen_modules(generator: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """The generator's sub-networks that finetuning leaves untouched (W, M, example warp)."""
    chosen = {id(p) for p in generator.finetune_parameters()}
    return [(n, m) for n, m in generator.named_children()
            if any(True for _ in m.parameters()) and not any(id(p) in chosen for p in m.parameters())]


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
                         perceptual_weight: float = 1.0,
                         keypoints: torch.Tensor | None = None) -> FinetuneReport:
    """Finetune `generator` in place on its examples.

    images (1, K, 3, H, W) in [-1, 1], semantics (1, K, C, H, W), keypoints (1, K, J, 3) (models
    with a keypoint prior). Per step: `prepare` on the examples (weights regenerated, so E gets
    gradients), then every example k is synthesised from s_ek (batch of K) and compared to e_k.
    With K >= 2 each example is synthesised from the OTHER examples (leave one out): with a
    prior flow, an example warped onto itself would make the task trivial.
    """
    torch.manual_seed(seed)
    trainable, frozen = split_parameters(generator)
    flags = {id(p): p.requires_grad for p in generator.parameters()}
    for p in frozen:
        p.requires_grad_(False)
    for p in trainable:
        p.requires_grad_(True)
    k = images.shape[1]
    # sample i sees the examples other than i (all of them when K = 1)
    others = torch.tensor([[j for j in range(k) if j != i] or [i] for i in range(k)],
                          device=images.device)
    ex_img, ex_sem = images[0][others], semantics[0][others]  # (K, K-1 or 1, ...)
    ex_kp = keypoints[0][others] if keypoints is not None else None
    target, target_sem = images[0], semantics[0]  # (K, 3, H, W), (K, C, H, W)
    target_kp = keypoints[0] if keypoints is not None else None
    vgg = _perceptual(images.device) if perceptual_weight > 0 else None
    opt = torch.optim.Adam(trainable, lr=lr, betas=betas)
    generator.train()
    for _, m in frozen_modules(generator):  # frozen nets stay in eval (no spectral-norm updates)
        m.eval()
    losses = []
    t0 = time.perf_counter()
    try:
        for _ in range(steps):
            state = generator.prepare(ex_img, ex_sem, ex_kp)
            out = generator.step(state, target_sem, None, None, target_kp)
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
