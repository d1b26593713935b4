"""The few-shot vid2vid generator F (paper Sec. 3): x_t = F(x_{t-tau..t-1}, s_t, {e_k, s_ek}).

Two phases shared by training and synthesis:

* ``prepare(examples (B,K,3,H,W), example_semantics (B,K,C,H,W), example_keypoints
  (B,K,J,3)|None, background (B,K,2,3)|None) -> ExampleState``: runs E_F on every example and
  E_A's key net once per video; for K = 1 or ``aggregation="average"`` the appearance (E_P's
  generated SPADE weights, or the baselines' style vector) does not depend on the frame and is
  cached too; with the keypoint prior, the examples' warp stacks and background plate.
* ``step(state, s_t (B,C,H,W), prev_images (B,P,3,H,W)|None, prev_semantics (B,P,C,H,W)|None,
  keypoints (B,J,3)|None, prev_keypoints (B,J,3)|None) -> StepOutput``: E_A attention (K > 1),
  E_P, the flow/mask nets W/M for the previous frame and for the examples, H, and the
  composition:
    blend (eq. 11):  h'_t = (1 - m_e) warp(e, w_e) + m_e h_t;   x_t = (1 - m_t) warp(x_{t-1}, w_t) + m_t h'_t
    spade_combine:   [warp(x_{t-1}), m_t] and [warp(e), m_e] are extra SPADE modulations of the
                     finest ``n_adaptive_layers`` blocks; x_t = h_t.
  With ``flow_prior="keypoints"`` (kinds with keypoints) both flows start from the analytic
  keypoint prior (semantics/prior.py) and W predicts residuals; every example is warped and
  chosen per pixel with a background plate (models/example_warp.py, warp(e, w_e) above is that
  composite); H is conditioned on it (spade_combine's modulation) before the blend. Last,
  where the prior trusts the composite (confidence c: a present, unmirrored, well-fitted part of
  a chosen example, or background the examples saw) it is kept as it is:
  x_t <- c warp(e, w_e) + (1 - c) x_t, so the learned parts act on seams, occlusions, missing or
  mirrored parts and inpainted background, and cannot blur what the warp already has right.
* ``forward(...)`` = prepare + autoregressive steps over T (previous output detached).

Appearance switches (paper Table 1): weightgen (ours: E_P generates the SPADE branch weights
of the finest ``n_adaptive_layers`` blocks), encoder (style vector -> H's input), concat (style
vector broadcast + concatenated to every SPADE branch's semantic map), adain (AdaIN after each
SPADE norm). Aggregation over K: attention (E_A) | average.
Without the prior the warped example (warp_ref) is the one with the largest summed attention;
with average aggregation (no attention) the one whose pooled semantic map is closest (L1) to
s_t; K = 1: e_1. With the prior, ref_index is the example with the largest selected area.
``attention`` is None for K = 1 and for average aggregation.
With ``n_prev_frames`` = P > 1 the flow net sees all P previous frames (images + semantics) and
warps the most recent one; fewer than P given frames are padded by repeating the oldest.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import parametrize

from v2vtool.config import GeneratorConfig
from v2vtool.errors import UserError
from v2vtool.models.attention import ExampleAttention
from v2vtool.models.contract import ExampleState, SequenceOutput, StepOutput
from v2vtool.models.encoder import ExampleEncoder, StyleHead
from v2vtool.models.example_warp import ExampleWarp
from v2vtool.models.flow import FlowMaskNet
from v2vtool.models.layers import act, channels, pyramid, sn_conv
from v2vtool.models.spade import SpadeResBlock
from v2vtool.models.warp import warp
from v2vtool.models.weightgen import WeightGenerator
from v2vtool.semantics.kinds import get_kind
from v2vtool.semantics.prior import PriorFlow

log = logging.getLogger(__name__)

APPEARANCES = ("weightgen", "encoder", "concat", "adain")
AGGREGATIONS = ("attention", "average")
COMPOSITIONS = ("blend", "spade_combine")
FLOW_PRIORS = ("keypoints", "none")
PREV_MASK_BIAS = 2.0  # keypoint prior: m_t = sigmoid(2) ~ 0.88 at start (mostly the new frame)


@dataclass
class Appearance:
    """What the examples contribute to H: generated SPADE weights (weightgen) or a style vector."""

    weights: list[dict[str, torch.Tensor]] | None  # per adaptive block, finest first
    style: torch.Tensor | None  # (B, style_dim)


def _validate(cfg: GeneratorConfig) -> None:
    for name, value, allowed in (("appearance", cfg.appearance, APPEARANCES),
                                 ("aggregation", cfg.aggregation, AGGREGATIONS),
                                 ("composition", cfg.composition, COMPOSITIONS),
                                 ("flow_prior", cfg.flow_prior, FLOW_PRIORS)):
        if value not in allowed:
            raise UserError(f"generator.{name}={value!r} is not one of {', '.join(allowed)}")
    if not 0 <= cfg.n_adaptive_layers <= cfg.n_downsample + 1:
        raise UserError(f"generator.n_adaptive_layers={cfg.n_adaptive_layers} must be in "
                        f"0..n_downsample+1 ({cfg.n_downsample + 1})")
    if cfg.n_prev_frames < 1:
        raise UserError("generator.n_prev_frames must be >= 1")
    depth = max(cfg.n_downsample, cfg.flow_n_downsample,
                cfg.attention_downsample + max(cfg.n_adaptive_layers, 1) - 1)
    if cfg.height % 2 ** depth or cfg.width % 2 ** depth:
        raise UserError(f"generator size {cfg.width}x{cfg.height} must be divisible by "
                        f"2**{depth} = {2 ** depth}")


class FewShotGenerator(nn.Module):
    """F = H (SPADE) + E (E_F, E_A, E_P) + W/M (flow, mask). All sizes from ``cfg``.

    Implements the generator contract (models/contract.py: ``Generator``)."""

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        _validate(cfg)
        self.cfg = cfg
        c = cfg.semantic_nc
        n = cfg.n_downsample
        ch = [channels(cfg.ngf, lvl, cfg.max_channels) for lvl in range(n + 1)]
        n_layers = max(cfg.n_adaptive_layers, 1)
        self.encoder = ExampleEncoder(c, cfg.ngf, cfg.max_channels, cfg.attention_downsample,
                                      n_layers)
        self.attention = (ExampleAttention(c, cfg.attention_channels, cfg.attention_downsample)
                          if cfg.aggregation == "attention" else None)
        weightgen = cfg.appearance == "weightgen"
        style_dim = 0 if weightgen else cfg.style_dim
        sem_ch = c + (style_dim if cfg.appearance == "concat" else 0)
        self.prior = cfg.keypoint_prior
        # H sees warped frames as SPADE modulation: both (previous frame, examples) in
        # spade_combine; with the prior and eq. 11 blending, the examples' composite only (the
        # previous frame enters through the blend)
        self.combine_prev = cfg.composition == "spade_combine"
        n_combine = int(self.combine_prev) + int(cfg.warp_ref and (self.combine_prev or self.prior))
        self.blocks = nn.ModuleList()
        self.levels = list(range(n, -1, -1))  # coarsest -> finest
        for lvl in self.levels:
            self.blocks.append(SpadeResBlock(
                ch[min(lvl + 1, n)], ch[lvl], sem_ch, cfg.spade_hidden,
                adaptive=weightgen and lvl < cfg.n_adaptive_layers, kernel=cfg.adaptive_kernel,
                n_combine=n_combine if lvl < max(cfg.n_adaptive_layers, 1) else 0,
                adain_dim=style_dim if cfg.appearance == "adain" else 0))
        h0, w0 = cfg.height // 2 ** n, cfg.width // 2 ** n
        if cfg.appearance == "encoder":  # Encoder baseline: style vector is H's input
            self.head_in = nn.Linear(style_dim, ch[n] * h0 * w0)
        else:  # SPADE: H starts from the downsampled semantic map
            self.head_in = sn_conv(c, ch[n])
        self.to_image = nn.Conv2d(ch[0], 3, 3, padding=1)
        self.adaptive_blocks = [b for b in reversed(self.blocks) if b.adaptive]  # finest first
        self.weightgen = (WeightGenerator(self.encoder.appearance_channels[:len(self.adaptive_blocks)],
                                          [b.weight_shapes() for b in self.adaptive_blocks],
                                          cfg.weightgen_hidden)
                          if self.adaptive_blocks else None)
        self.style_head = (StyleHead(self.encoder.appearance_channels[-1], style_dim)
                           if style_dim else None)
        p = cfg.n_prev_frames
        fkw = dict(ngf=cfg.flow_ngf, n_downsample=cfg.flow_n_downsample,
                   n_blocks=cfg.flow_n_blocks, max_channels=cfg.flow_max_channels,
                   flow_scale=cfg.flow_scale)
        # with the prior, W sees the previous frame already moved by the prior (+ the target's
        # body mask) and predicts a residual flow
        # (the prior's previous frame starts mostly unused, m ~ 0.88: no ghost trail or blur
        # drift before the mask has learned where the moved previous frame is right)
        self.flow_prev = FlowMaskNet(c * (1 + p) + 3 * p + int(self.prior), **fkw,
                                     mask_bias=PREV_MASK_BIAS if self.prior else 0.0)
        self.flow_ref = (FlowMaskNet(2 * c + 3, **fkw) if cfg.warp_ref and not self.prior
                         else None)
        self.example_warp = (ExampleWarp(c, 2 * cfg.flow_ngf, fkw) if cfg.warp_ref and self.prior
                             else None)

    def finetune_parameters(self) -> list[nn.Parameter]:
        """Parameters of E (E_F, E_A, E_P / style head) and H for test-time finetuning on the
        examples; the flow / mask nets W, M stay fixed (paper Sec. 4)."""
        frozen = {id(p) for m in (self.flow_prev, self.flow_ref, self.example_warp)
                  if m is not None for p in m.parameters()}
        return [p for p in self.parameters() if id(p) not in frozen]

    # ------------------------------------------------------------------ examples
    def _check(self, name: str, x: torch.Tensor, dims: int, ch: int) -> None:
        if x.dim() != dims or x.shape[-3] != ch or tuple(x.shape[-2:]) != (self.cfg.height, self.cfg.width):
            raise ValueError(f"{name}: expected {dims}-D (..., {ch}, {self.cfg.height}, "
                             f"{self.cfg.width}), got {tuple(x.shape)}")

    def _appearance(self, feature: torch.Tensor) -> Appearance:
        """Aggregated f (B, C_A, h, w) -> generated weights (E_P) or style vector."""
        q = self.encoder.appearance(feature)
        weights = self.weightgen(q[:len(self.adaptive_blocks)]) if self.weightgen else None
        if weights is not None:  # fused SPADE heads built once per set of weights (spade.py)
            weights = [blk.fuse_heads(w) for blk, w in zip(self.adaptive_blocks, weights)]
        style = self.style_head(q[-1]) if self.style_head is not None else None
        return Appearance(weights, style)

    def prepare(self, examples: torch.Tensor, example_semantics: torch.Tensor,
                example_keypoints: torch.Tensor | None = None,
                background: torch.Tensor | None = None,
                example_masks: torch.Tensor | None = None,
                plate: torch.Tensor | None = None) -> ExampleState:
        """examples (B, K, 3, H, W) in [-1, 1], example_semantics (B, K, C, H, W),
        example_keypoints (B, K, J, 3) in model pixels (needed with flow_prior=keypoints);
        background (B, K, 2, 3): where each example shows the target frames' static scene
        (target px -> example px), when examples and driver share a camera; None: in the same
        place (training: one crop for the whole sample); example_masks (B, K, 1, H, W) the
        examples' person segmentation, plate (B, 4, H, W) the scene behind them + where it was
        seen (`data/plate.py`; both optional, keypoint prior only) -> state."""
        self._check("examples", examples, 5, 3)
        self._check("example_semantics", example_semantics, 5, self.cfg.semantic_nc)
        b, k = examples.shape[:2]
        feats = self.encoder.encode_examples(examples.flatten(0, 1), example_semantics.flatten(0, 1))
        feats = feats.unflatten(0, (b, k))
        keys = None
        appearance = None
        if k > 1 and self.attention is not None:
            keys = self.attention.keys(example_semantics.flatten(0, 1)).unflatten(0, (b, k))
        else:  # K == 1 or average: frame independent -> cache E_P's weights / the style
            appearance = self._appearance(feats.mean(dim=1))
        small = F.avg_pool2d(example_semantics.flatten(0, 1), 2 ** self.cfg.attention_downsample)
        sources = None
        if self.example_warp is not None:
            kp = self._keypoints("example_keypoints", example_keypoints, (b, k))
            flat = kp.flatten(0, 1)  # each example's own body mask: its prior onto itself
            occ = get_kind(self.cfg.kind).prior(flat, flat[:, None], self.cfg.height,
                                                self.cfg.width).occupancy.unflatten(0, (b, k))
            sources = self.example_warp.prepare(examples, example_semantics, kp,
                                                occ.to(examples.dtype), background,
                                                example_masks, plate)
        return ExampleState(examples, example_semantics, feats, keys, appearance,
                            small.unflatten(0, (b, k)), sources)

    def _keypoints(self, name: str, kp: torch.Tensor | None, lead: tuple[int, ...]) -> torch.Tensor:
        j = get_kind(self.cfg.kind).prior_joints
        if kp is None:
            raise ValueError(f"{name}: needed with generator.flow_prior=keypoints")
        if tuple(kp.shape[:len(lead)]) != lead or kp.dim() != len(lead) + 2 or kp.shape[-1] != 3 \
                or kp.shape[-2] < j:
            raise ValueError(f"{name}: expected {lead + (j, 3)}, got {tuple(kp.shape)}")
        return kp[..., :j, :]

    # ------------------------------------------------------------------ one frame
    def step(self, state: ExampleState, semantic: torch.Tensor,
             prev_images: torch.Tensor | None = None,
             prev_semantics: torch.Tensor | None = None,
             keypoints: torch.Tensor | None = None,
             prev_keypoints: torch.Tensor | None = None) -> StepOutput:
        """Generate x_t. semantic s_t (B, C, H, W); prev_images (B, P', 3, H, W) and
        prev_semantics (B, P', C, H, W) oldest first, or None (first frame: no temporal warp);
        with flow_prior=keypoints also keypoints (B, J, 3) of frame t and prev_keypoints
        (B, J, 3) of frame t-1, in model pixels."""
        cfg = self.cfg
        self._check("semantic", semantic, 4, cfg.semantic_nc)
        b = semantic.shape[0]
        batch = torch.arange(b, device=semantic.device)
        # E_A / E_P: appearance of the examples for this frame
        attention = None
        if state.appearance is not None:
            appearance = state.appearance
            if state.k == 1:
                ref_index = torch.zeros(b, dtype=torch.long, device=semantic.device)
            else:  # average aggregation: warp the example whose semantics match s_t best
                small = F.avg_pool2d(semantic, 2 ** cfg.attention_downsample)
                dist = (state.semantics_small - small[:, None]).abs().mean(dim=(2, 3, 4))
                ref_index = dist.argmin(dim=1)
        else:
            feature, attention = self.attention(state.keys, state.features, semantic)
            appearance = self._appearance(feature)
            ref_index = attention.sum(dim=(2, 3)).argmax(dim=1)
        prior = self._prior(state, keypoints, prev_keypoints if prev_images is not None else None)
        # W / M: flow + mask for the previous frame and for the examples
        flow = mask = warped_prev = None
        if prev_images is not None:
            if prev_semantics is None:
                raise ValueError("prev_images given without prev_semantics")
            prev_images, prev_semantics = self._pad_prev(prev_images, prev_semantics)
            if prior is None:
                cond = torch.cat([semantic, prev_semantics.flatten(1, 2), prev_images.flatten(1, 2)], 1)
                flow, mask = self.flow_prev(cond)
            else:  # the latest previous frame moved by the prior; W learns the residual
                p_flow = prior.flow[:, -1]
                moved = warp(torch.cat([prev_images[:, -1], prev_semantics[:, -1]], 1), p_flow)
                images = torch.cat([prev_images[:, :-1], moved[:, None, :3]], 1)
                sems = torch.cat([prev_semantics[:, :-1], moved[:, None, 3:]], 1)
                occ = prior.occupancy.to(semantic.dtype)
                residual, mask = self.flow_prev(torch.cat(
                    [semantic, sems.flatten(1, 2), images.flatten(1, 2), occ], 1))
                flow = residual + warp(p_flow, residual)  # F(p) = dw(p) + P(p + dw(p))
            warped_prev = warp(prev_images[:, -1], flow)
        ref_flow = ref_mask = warped_ref = selection = confidence = None
        if self.example_warp is not None:
            k = state.k
            ew = self.example_warp(state.sources, semantic,
                                   PriorFlow(prior.flow[:, :k], prior.occupancy, prior.cues[:, :k]))
            ref_flow, ref_mask, warped_ref = ew.flow, ew.mask, ew.image
            selection, ref_index, confidence = ew.selection, ew.ref_index, ew.confidence
        elif self.flow_ref is not None:
            ref_img = state.examples[batch, ref_index]
            ref_sem = state.example_semantics[batch, ref_index]
            ref_flow, ref_mask = self.flow_ref(torch.cat([semantic, ref_sem, ref_img], 1))
            warped_ref = warp(ref_img, ref_flow)
        # H
        combine = []
        if self.blocks[-1].combine:
            n_comb = max(cfg.n_adaptive_layers, 1) - 1
            if self.combine_prev:
                combine.append(pyramid(torch.cat([warped_prev, mask], 1), n_comb)
                               if warped_prev is not None else None)
            if warped_ref is not None:
                combine.append(pyramid(torch.cat([warped_ref, ref_mask], 1), n_comb))
        raw = self._synthesize(semantic, appearance, combine)
        # composition
        if cfg.composition == "blend":
            image = raw
            if warped_ref is not None:
                image = (1 - ref_mask) * warped_ref + ref_mask * image
            if warped_prev is not None:
                image = (1 - mask) * warped_prev + mask * image  # eq. 11
        else:
            image = raw
        if confidence is not None:  # the prior's trusted pixels stay the warped composite
            confidence = confidence.to(image.dtype)
            image = confidence * warped_ref + (1 - confidence) * image
        return StepOutput(image, raw, flow, mask, warped_prev, ref_flow, ref_mask, warped_ref,
                          attention, ref_index, selection, confidence)

    def _prior(self, state: ExampleState, keypoints: torch.Tensor | None,
               prev_keypoints: torch.Tensor | None) -> PriorFlow | None:
        """Prior flows of frame t to the K examples (with warp_ref) and to frame t-1 (last,
        when there is a previous frame): one call, so the target's part assignment is shared."""
        if not self.prior:
            return None
        b = state.examples.shape[0]
        target = self._keypoints("keypoints", keypoints, (b,))
        sources, background = [], []
        eye = torch.eye(2, 3, device=target.device).expand(b, 1, 2, 3)
        if state.sources is not None:
            sources.append(state.sources.keypoints)
            bg = state.sources.background
            background.append(bg if bg is not None else eye.expand(b, state.k, 2, 3))
        if prev_keypoints is not None:  # consecutive frames of one video: the scene stays put
            sources.append(self._keypoints("prev_keypoints", prev_keypoints, (b,))[:, None])
            background.append(eye)
        if not sources:
            return None
        return get_kind(self.cfg.kind).prior(target, torch.cat(sources, 1), self.cfg.height,
                                             self.cfg.width, background=torch.cat(background, 1))

    def _pad_prev(self, images: torch.Tensor, semantics: torch.Tensor):
        p = self.cfg.n_prev_frames
        if images.dim() != 5 or images.shape[1] != semantics.shape[1] or images.shape[1] < 1:
            raise ValueError(f"prev_images {tuple(images.shape)} / prev_semantics "
                             f"{tuple(semantics.shape)} must be (B, P, ...) with the same P >= 1")
        images, semantics = images[:, -p:], semantics[:, -p:]
        missing = p - images.shape[1]
        if missing:
            images = torch.cat([images[:, :1].expand(-1, missing, -1, -1, -1), images], 1)
            semantics = torch.cat([semantics[:, :1].expand(-1, missing, -1, -1, -1), semantics], 1)
        return images, semantics

    def _synthesize(self, semantic: torch.Tensor, appearance: Appearance,
                    combine: list[list[torch.Tensor] | None]) -> torch.Tensor:
        """H: s_t (B, C, H, W) -> h_t (B, 3, H, W) in [-1, 1]."""
        cfg = self.cfg
        n = cfg.n_downsample
        sems = pyramid(semantic, n)
        style = appearance.style
        if cfg.appearance == "concat":  # ConcatStyle: style broadcast onto every SPADE input
            sems = [torch.cat([s, style[:, :, None, None].expand(-1, -1, *s.shape[-2:])], 1)
                    for s in sems]
        if cfg.appearance == "encoder":
            x = self.head_in(style).reshape(semantic.shape[0], -1, cfg.height // 2 ** n,
                                            cfg.width // 2 ** n)
        else:
            x = self.head_in(sems[n][:, :cfg.semantic_nc])
        weights = appearance.weights or []
        for i, (lvl, block) in enumerate(zip(self.levels, self.blocks)):
            if i > 0:
                x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            w = weights[lvl] if block.adaptive else None
            comb = [c[lvl] if c is not None else None for c in combine] if block.combine else None
            x = block(x, sems[lvl], weights=w, combine=comb,
                      style=style if block.adain is not None else None)
        return torch.tanh(self.to_image(act(x)))

    # ------------------------------------------------------------------ sequences
    def forward(self, examples: torch.Tensor, example_semantics: torch.Tensor,
                semantics: torch.Tensor, prev_images: torch.Tensor | None = None,
                prev_semantics: torch.Tensor | None = None,
                example_keypoints: torch.Tensor | None = None,
                keypoints: torch.Tensor | None = None,
                prev_keypoints: torch.Tensor | None = None,
                example_masks: torch.Tensor | None = None,
                plate: torch.Tensor | None = None) -> SequenceOutput:
        """Generate T frames autoregressively (training). semantics (B, T, C, H, W);
        optional real/earlier prev_images (B, P, 3, H, W) + prev_semantics (+ prev_keypoints
        (B, J, 3) of the latest); with flow_prior=keypoints example_keypoints (B, K, J, 3) and
        keypoints (B, T, J, 3), optionally example_masks / plate (see `prepare`). Each
        generated frame becomes the next step's previous frame, detached."""
        if semantics.dim() != 5:
            raise ValueError(f"semantics: expected (B, T, C, H, W), got {tuple(semantics.shape)}")
        p = self.cfg.n_prev_frames
        steps = []
        # spectral-normalised weights once per sequence, not once per frame (differentiable)
        with parametrize.cached():
            state = self.prepare(examples, example_semantics, example_keypoints,
                                 example_masks=example_masks, plate=plate)
            for t in range(semantics.shape[1]):
                kp = keypoints[:, t] if keypoints is not None else None
                out = self.step(state, semantics[:, t], prev_images, prev_semantics, kp,
                                prev_keypoints)
                steps.append(out)
                new_img, new_sem = out.image.detach()[:, None], semantics[:, t:t + 1]
                prev_images = (new_img if prev_images is None
                               else torch.cat([prev_images, new_img], 1)[:, -p:])
                prev_semantics = (new_sem if prev_semantics is None
                                  else torch.cat([prev_semantics, new_sem], 1)[:, -p:])
                prev_keypoints = kp
        return SequenceOutput.stack(steps)
