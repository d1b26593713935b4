"""The generator contract: what training, synthesis, losses and the benchmark rely on.

Any generator (today `FewShotGenerator`, all four appearance variants) is an `nn.Module` with
these four methods and returns these dataclasses; nothing outside models/ reads anything else
of it. `build_generator(cfg)` (models/build.py) is the one place a generator is constructed,
`save_generator` / `load_generator` (models/checkpoint.py) the one place it is stored.

    state = g.prepare(examples (B,K,3,H,W) [-1,1], example_semantics (B,K,C,H,W) [0,1],
                      example_keypoints (B,K,J,3)|None, background (B,K,2,3)|None,
                      example_masks (B,K,1,H,W)|None, plate (B,4,H,W)|None)
    out = g.step(state, s_t (B,C,H,W), prev_images (B,P,3,H,W)|None, prev_semantics|None,
                 keypoints (B,J,3)|None, prev_keypoints (B,J,3)|None)
    seq = g(examples, example_semantics, semantics (B,T,C,H,W), ...,
            example_keypoints=..., keypoints=(B,T,J,3))     # training: prepare + T steps
    g.finetune_parameters()                                 # what test-time finetuning trains

Keypoints (in model pixels; the kind's `prior_keypoints` layout, e.g. BODY_25 for pose) are
needed by generators whose config has `keypoint_prior` (flows start from semantics/prior.py) and
ignored otherwise.

Who reads which output field today: synthesis/stream.py `StepOutput.image`, `.attention`,
`.ref_index`, `.selection`; synthesis/finetune.py `StepOutput.image`; losses/objective.py `SequenceOutput`
image, flow, mask, warped_ref, ref_index, has_prev; training (loop, validate) `.image`. The
other fields (raw, warped_prev, ref_flow, ref_mask) are for inspection and tests.
`ExampleState` is produced by `prepare` and only passed back to `step` (callers read `.k` at
most).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn as nn


@dataclass
class ExampleState:
    """Everything that depends only on the examples (computed once per video by ``prepare``)."""

    examples: torch.Tensor  # (B, K, 3, H, W)
    example_semantics: torch.Tensor  # (B, K, C, H, W)
    features: torch.Tensor  # E_F per-example features f_k (B, K, C_A, h, w)
    keys: torch.Tensor | None  # E_A keys a_k (B, K, c, h, w) (attention, K > 1)
    # the implementation's cached appearance (FewShotGenerator: generated SPADE weights or a
    # style vector), when frame independent (K == 1 or average aggregation); else None
    appearance: Any | None
    semantics_small: torch.Tensor  # example semantics pooled to (h, w): (B, K, C, h, w)
    # the implementation's per-video warp sources (FewShotGenerator with a keypoint prior:
    # models/example_warp.ExampleSources), else None
    sources: Any | None = None

    @property
    def k(self) -> int:
        return self.examples.shape[1]


@dataclass
class StepOutput:
    """One generated frame. Images in [-1, 1]; flows in pixels; masks in [0, 1] (1 = use h)."""

    image: torch.Tensor  # x_t (B, 3, H, W)
    raw: torch.Tensor  # h_t, H's output (B, 3, H, W)
    flow: torch.Tensor | None = None  # w_t (B, 2, H, W): x_t <- x_{t-1}
    mask: torch.Tensor | None = None  # m_t (B, 1, H, W)
    warped_prev: torch.Tensor | None = None  # warp(x_{t-1}, w_t) (B, 3, H, W)
    ref_flow: torch.Tensor | None = None  # w_e (B, 2, H, W): x_t <- e_ref
    ref_mask: torch.Tensor | None = None  # m_e (B, 1, H, W)
    warped_ref: torch.Tensor | None = None  # warp(e_ref, w_e) (B, 3, H, W)
    # (B, K, h, w) at 1/2**attention_downsample of s_t's grid (the CURRENT frame's coordinates):
    # attention mass on example k at each query position; sums to 1 over K (K > 1, attention)
    attention: torch.Tensor | None = None
    ref_index: torch.Tensor | None = None  # (B,) long: the warped (most-attended) example
    # keypoint prior: per-pixel weights over the K warped examples + the background plate
    # (B, K + 1, H, W), summing to 1; the most selected example is ref_index
    selection: torch.Tensor | None = None
    # keypoint prior: (B, 1, H, W) in [0, 1], where the prior trusts the composite; the image
    # is confidence * warped_ref + (1 - confidence) * (the learned composition)
    confidence: torch.Tensor | None = None


@dataclass
class SequenceOutput:
    """StepOutput fields stacked over T: (B, T, ...). ``has_prev`` (T,) bool marks frames that
    had a previous frame; where it is False, flow = 0, mask = 1, warped_prev = 0 (placeholders:
    exclude those frames from flow / warp / mask losses)."""

    image: torch.Tensor
    raw: torch.Tensor
    flow: torch.Tensor | None = None
    mask: torch.Tensor | None = None
    warped_prev: torch.Tensor | None = None
    ref_flow: torch.Tensor | None = None
    ref_mask: torch.Tensor | None = None
    warped_ref: torch.Tensor | None = None
    attention: torch.Tensor | None = None
    ref_index: torch.Tensor | None = None
    selection: torch.Tensor | None = None
    confidence: torch.Tensor | None = None
    has_prev: torch.Tensor | None = None  # (T,) bool

    @classmethod
    def stack(cls, steps: list[StepOutput]) -> "SequenceOutput":
        has_prev = torch.tensor([s.flow is not None for s in steps], dtype=torch.bool)
        fill = {"flow": 0.0, "mask": 1.0, "warped_prev": 0.0}
        out = {}
        for f in fields(StepOutput):
            vals = [getattr(s, f.name) for s in steps]
            present = [v for v in vals if v is not None]
            if not present:
                out[f.name] = None
                continue
            if len(present) != len(vals):  # temporal outputs missing on the first frame(s)
                like = present[0]
                vals = [v if v is not None else torch.full_like(like, fill[f.name]) for v in vals]
            out[f.name] = torch.stack(vals, dim=1)
        return cls(**out, has_prev=has_prev)


@runtime_checkable
class Generator(Protocol):
    """The methods every generator implements (signatures as FewShotGenerator's)."""

    def prepare(self, examples: torch.Tensor, example_semantics: torch.Tensor,
                example_keypoints: torch.Tensor | None = None,
                background: torch.Tensor | None = None,
                example_masks: torch.Tensor | None = None,
                plate: torch.Tensor | None = None) -> ExampleState:
        """examples (B, K, 3, H, W) in [-1, 1], example_semantics (B, K, C, H, W),
        example_keypoints (B, K, J, 3), background (B, K, 2, 3) target px -> example px of the
        static scene (None: in the same place), example_masks (B, K, 1, H, W) the examples'
        person segmentation, plate (B, 4, H, W) the scene behind them (RGB + seen) -> state."""
        ...

    def step(self, state: ExampleState, semantic: torch.Tensor,
             prev_images: torch.Tensor | None = None,
             prev_semantics: torch.Tensor | None = None,
             keypoints: torch.Tensor | None = None,
             prev_keypoints: torch.Tensor | None = None) -> StepOutput:
        """One frame x_t from s_t (B, C, H, W) and the previous P' frames (oldest first), or
        None on the first frame (no temporal warp); keypoints of frames t and t-1 (B, J, 3)."""
        ...

    def forward(self, examples: torch.Tensor, example_semantics: torch.Tensor,
                semantics: torch.Tensor, prev_images: torch.Tensor | None = None,
                prev_semantics: torch.Tensor | None = None,
                example_keypoints: torch.Tensor | None = None,
                keypoints: torch.Tensor | None = None,
                prev_keypoints: torch.Tensor | None = None,
                example_masks: torch.Tensor | None = None,
                plate: torch.Tensor | None = None) -> SequenceOutput:
        """T frames autoregressively (training): prepare + step per frame, each output fed
        back detached as the next previous frame."""
        ...

    def finetune_parameters(self) -> list[nn.Parameter]:
        """The parameters test-time finetuning on the examples updates (paper: E and H)."""
        ...
