"""Warping the K examples to the current frame on top of the keypoint prior (``flow_prior =
"keypoints"``): the example branch of the paper's warp_ref, made to re-pose.

Per video (``prepare``): each example k becomes a source stack [e_k, s_ek, m_ek] (image, its
semantic map, its person mask: the silhouette the caller gives (`data/plate.person_mask`: a
segmentation plus the skeleton's strokes), else its soft body mask from its keypoints,
thresholded). The background plate is
the scene behind the people: callers with host images pass it (``data/plate.py``: the scene from
the first example that shows each pixel, the rest inpainted, plus a channel saying which pixels
were seen); without one, e_1 with its person filled in by push-pull. Either way background
pixels get a source that does not show an example's body (no ghost).

Per frame (``forward``), with P_k the prior flows target -> example k (``semantics/prior.py``):
  1. candidates: W_k = warp(stack_k, P_k) for every example, plus the plate;
  2. selection: a small net scores every candidate at every pixel (at half resolution) from the
     warped candidate, the prior's cues (reflected fit = the example shows the other side, fit
     residual, missing part) and the target semantics, added to fixed logits that start the
     model at the prior (body pixels from the examples, avoiding reflected fits; background from
     the plate; never an example's own person where the target has background: that is a
     ghost); softmax over the K + 1 candidates, sharper among the examples
     (`selection_weights`);
  3. refinement: W (the flow net) sees the selected composite and predicts a residual flow dw and
     the mask m_e; every example is resampled once with the composed flow
     F_k(p) = dw(p) + P_k(p + dw(p)) (no double interpolation), the plate with dw;
     warped_ref = sum_k sel_k(p + dw) warp(e_k, F_k) + sel_plate(p + dw) warp(plate, dw).
The residual flow head starts at zero and the mask at m_e ~ 0.05, so an untrained model already
outputs the prior-warped examples (paper notes: start at the prior).

Confidence: where the composite comes from a source the prior trusts — an example whose part is
present, fitted without a mirror and with a small residual, or a plate pixel the examples show —
the warped pixels are right as they are, and learned layers trained on other footage can only
blur them. ``confidence`` (B, 1, H, W) is the selection-weighted trust of the chosen sources; the
generator keeps the composite there and lets its learned parts act only on the rest (seams,
occlusions, missing or mirrored parts, inpainted background).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from v2vtool.data.plate import PERSON_MARGIN
from v2vtool.models.flow import FlowMaskNet
from v2vtool.models.layers import act
from v2vtool.semantics.prior import POSE_CUES, PriorFlow, affine_flow
from v2vtool.models.warp import warp

# fixed logits that start the selection at the prior (added to the learned scores)
OCCUPANCY_LOGIT = 6.0  # body pixels from the examples, background from the plate
REFLECTED_LOGIT = 3.0  # an example whose part had to be mirrored shows the other side
RESIDUAL_LOGIT = 3.0  # a poor part fit (residual in torso lengths^2, capped at 1)
MISSING_LOGIT = 3.0  # the part is missing in the example: its prior is the identity
GHOST_LOGIT = 8.0  # an example's own person landing on the target's background is a ghost
REF_MASK_BIAS = -3.0  # m_e = sigmoid(-3) ~ 0.05 at start: trust the warped examples
# how sharply the examples' share of a pixel goes to one of them (softmax temperature among the
# K examples only; the examples-vs-plate split is the plain softmax's). Examples equally valid at
# a pixel were averaged, and two warps of real photos never line up exactly, so the person
# blurred with K (realdev held out: sharpness 0.84 / 0.65 / 0.50 at K = 1 / 2 / 4). Chosen on
# the realdev train clips at K = 2: temperature 1 / 0.25 / 0.1 / 0.03 gave sharpness 0.66 / 0.75
# / 0.80 / 0.84 at L1 0.038 / 0.040 / 0.040 / 0.040 and equal keypoint distance; 0.1 keeps
# blending where the learned scores are close (less patchwork than 0.03)
EXAMPLE_TEMPERATURE = 0.1


def fill_holes(image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Push-pull fill: image (B, C, H, W), known (B, 1, H, W) in [0, 1] -> image with the unknown
    pixels filled from the known ones (smoothly, coarse to fine). Known pixels are kept."""
    colors, weights = [image * known], [known]
    while min(colors[-1].shape[-2:]) > 1:
        colors.append(F.avg_pool2d(colors[-1], 2, ceil_mode=True))
        weights.append(F.avg_pool2d(weights[-1], 2, ceil_mode=True))
    filled = colors[-1] / weights[-1].clamp_min(1e-6)
    for c, w in zip(reversed(colors[:-1]), reversed(weights[:-1])):
        up = F.interpolate(filled, size=c.shape[-2:], mode="bilinear", align_corners=False)
        filled = c + (1 - w) * up  # c is premultiplied by its weight w
    return filled


def dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    return F.max_pool2d(mask, 2 * radius + 1, stride=1, padding=radius) if radius > 0 else mask


@dataclass
class ExampleSources:
    """What ``ExampleWarp.prepare`` caches per video."""

    stack: torch.Tensor  # (B, K, 3 + C + 1, H, W): e_k, s_ek, m_ek (its person mask, {0, 1})
    plate: torch.Tensor  # (B, 3, H, W): the scene behind the people, where the target frame
    # sees it
    keypoints: torch.Tensor  # (B, K, J, 3) example keypoints in model pixels
    background: torch.Tensor | None = None  # (B, K, 2, 3) target px -> example px, static scene
    known: torch.Tensor | None = None  # (B, 1, H, W) 1 where the plate shows seen scene, 0 where
    # it is filled in (None: 1 - the first example's person)


@dataclass
class ExampleWarpOutput:
    image: torch.Tensor  # warped_ref (B, 3, H, W): the selected, refined composite
    mask: torch.Tensor  # m_e (B, 1, H, W): 1 = use H's output instead
    flow: torch.Tensor  # (B, 2, H, W) composed flow F_k of the most selected example
    residual: torch.Tensor  # dw (B, 2, H, W)
    selection: torch.Tensor  # (B, K + 1, H, W) per-pixel weights (K examples, then the plate)
    ref_index: torch.Tensor  # (B,) long: the example with the largest selected area
    confidence: torch.Tensor  # (B, 1, H, W) in [0, 1]: how far the prior trusts the composite


class SelectionNet(nn.Module):
    """Per candidate: (N, in_ch, H/2, W/2) -> 2 score maps (N, 2, H/2, W/2) [example, plate
    vote], at half resolution (the choice is smooth; the flow net sharpens edges)."""

    def __init__(self, in_ch: int, hidden: int):
        super().__init__()
        self.conv0 = nn.Conv2d(in_ch, hidden, 3, padding=1)
        self.conv1 = nn.Conv2d(hidden, hidden, 3, padding=1)
        self.head = nn.Conv2d(hidden, 2, 1)
        nn.init.zeros_(self.head.weight)  # start at the fixed prior logits
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(act(self.conv1(act(self.conv0(x)))))


class ExampleWarp(nn.Module):
    """sem_ch: C; hidden: selection width; flow_kwargs: the refinement flow net's sizes."""

    def __init__(self, sem_ch: int, hidden: int, flow_kwargs: dict):
        super().__init__()
        self.sem_ch = sem_ch
        cand = 3 + sem_ch + 1  # warped image, semantics, own body mask
        self.select = SelectionNet(cand + POSE_CUES + 3 + sem_ch + 1, hidden)
        self.refine = FlowMaskNet(sem_ch + 1 + cand, mask_bias=REF_MASK_BIAS, **flow_kwargs)

    @staticmethod
    def prepare(examples: torch.Tensor, semantics: torch.Tensor, keypoints: torch.Tensor,
                occupancy: torch.Tensor, background: torch.Tensor | None = None,
                masks: torch.Tensor | None = None, plate: torch.Tensor | None = None
                ) -> ExampleSources:
        """examples (B, K, 3, H, W), semantics (B, K, C, H, W), keypoints (B, K, J, 3),
        occupancy (B, K, 1, H, W) each example's own soft body mask; background (B, K, 2, 3)
        where each example shows the target's static scene (target px -> example px; None: in
        the same place, as in training, where examples and targets share one crop); masks
        (B, K, 1, H, W) the examples' person silhouettes (None: their keypoint bodies); plate
        (B, 4, H, W): the scene behind the people in the target's frame (RGB in [-1, 1]) + 1
        where it was seen, 0 where filled in (`data/plate.py`; None: push-pull from e_1)."""
        b, k, _, h, w = examples.shape
        # the silhouette: the caller's (`data/plate.person_mask`), else the keypoint body (bone
        # capsules, wider than a body)
        person = (masks > 0.5) if masks is not None else (occupancy > 0.05)
        person = person.to(examples.dtype)
        if plate is not None:
            plate, known = plate[:, :3].to(examples.dtype), plate[:, 3:].to(examples.dtype)
        else:  # the first example's scene, its person grown by a margin filled by push-pull
            known = 1 - dilate(person[:, 0], max(1, round(PERSON_MARGIN * h)))
            plate = fill_holes(examples[:, 0], known)
            if background is not None:
                to_example = affine_flow(background[:, 0], h, w)
                plate, known = warp(plate, to_example), warp(known, to_example)
        return ExampleSources(torch.cat([examples, semantics, person], 2), plate, keypoints,
                              background, known)

    def forward(self, sources: ExampleSources, semantic: torch.Tensor, prior: PriorFlow
                ) -> ExampleWarpOutput:
        """semantic s_t (B, C, H, W); prior: flows to the K examples (B, K, 2, H, W), target
        occupancy (B, 1, H, W) and cues (B, K, POSE_CUES, H, W)."""
        b, k, ch, h, w = sources.stack.shape
        flows = prior.flow  # flows and sampling grids stay fp32
        cand = candidates(sources, flows)
        occ = prior.occupancy.to(semantic.dtype)
        # the choice is made at half resolution: candidates pooled per example, what every
        # example shares (plate, s_t, target body) pooled once
        cand_lo = F.avg_pool2d(cand.flatten(0, 1), 2).unflatten(0, (b, k))
        shared = F.avg_pool2d(torch.cat([sources.plate, semantic, occ], 1), 2)
        per_k = torch.cat([cand_lo, prior.cues.to(semantic.dtype),
                           shared[:, None].expand(b, k, -1, -1, -1)], 2)
        scores = self.select(per_k.flatten(0, 1)).unflatten(0, (b, k))  # (B, K, 2, H/2, W/2)
        learned = torch.cat([scores[:, :, 0], scores[:, :, 1].mean(1, keepdim=True)], 1)
        logits = prior_logits(shared[:, -1:], prior.cues, cand_lo[:, :, -1:]) + learned
        sel_lo = selection_weights(logits.float(), k)
        logits = F.interpolate(logits.float(), size=(h, w), mode="bilinear", align_corners=False)
        sel = selection_weights(logits, k).to(semantic.dtype)
        confidence = F.interpolate(source_trust(
            sel_lo, prior.cues, F.avg_pool2d(sources.known.float(), 2), shared[:, -1:],
            cand_lo[:, :, -1:]), size=(h, w), mode="bilinear", align_corners=False)
        composite = compose(sel, cand, sources.plate)  # (B, ch, H, W) image, semantics, mask
        residual, mask = self.refine(torch.cat([semantic, occ, composite], 1))
        # the residual flow, like the image, only where the prior is unsure: on real people
        # it bent the prior's sharp, well-placed texture (realdev train clips: sharpness 0.85
        # -> 0.87, keypoint distance still below the prior's)
        residual = residual * (1 - confidence.to(residual.dtype))
        # resample every example once with the composed flow F_k = dw + P_k(p + dw)
        total = residual[:, None] + warp(flows.flatten(0, 1), residual.repeat_interleave(k, 0)
                                         ).unflatten(0, (b, k))
        images = warp(sources.stack[:, :, :3].flatten(0, 1), total.flatten(0, 1)).unflatten(0, (b, k))
        sel = warp(sel, residual)
        confidence = warp(confidence, residual)
        image = compose(sel, images, warp(sources.plate, residual))
        ref_index = sel[:, :k].sum(dim=(2, 3)).argmax(1)
        flow = total[torch.arange(b, device=total.device), ref_index]
        return ExampleWarpOutput(image, mask, flow, residual, sel, ref_index, confidence)


def candidates(sources: ExampleSources, flows: torch.Tensor) -> torch.Tensor:
    """Every example's stack warped by its prior flow: (B, K, 3 + C + 1, H, W)."""
    b, k = sources.stack.shape[:2]
    return warp(sources.stack.flatten(0, 1), flows.flatten(0, 1)).unflatten(0, (b, k))


NEAR_BODY = 0.0  # the band around the target's body (fraction of the height, at least one
# pixel of the selection's half resolution) where the plate's inpainted fill meets the person
# and the learned layers may repaint it (on the realdev train clips wider bands, 0.015 and
# 0.04, gave higher L1 and ring errors: the learned layers drew ghost outlines there)


def body_evidence(occupancy: torch.Tensor, person: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each candidate shows the target's body and where it shows a ghost: occupancy
    (B, 1, h, w) the target's keypoint body, person (B, K, 1, h, w) each example's own
    silhouette warped to the target -> (body, ghost), each (B, K, h, w) in [0, 1].
    Body: the target has body there and the example's warped silhouette does too (a part's
    region is a capsule around its bones; where the capsule carries the example's background
    along, the plate shows the scene instead: no halo around re-posed limbs). Ghost: off the
    target's body a pixel follows the background flow, so an example's person seen there is that
    example's own person on the target's background."""
    occ, person = occupancy.float(), person[:, :, 0].float()
    return occ * person, person * (1 - occ)


def prior_logits(occupancy: torch.Tensor, cues: torch.Tensor, person: torch.Tensor
                 ) -> torch.Tensor:
    """The fixed selection logits (B, K + 1, h, w) that start the model at the prior: body
    pixels from the examples that show their person there with the part present and fitted
    without a mirror, everything else from the plate, and never an example's own person where
    the target has background (a ghost). occupancy (B, 1, h, w) the target's body; cues
    (B, K, POSE_CUES, h, w) the prior's (reflected, fit residual, part missing); person
    (B, K, 1, h, w) each example's own person warped to the target (all at the selection's half
    resolution)."""
    cues = cues.float()
    body, ghost = body_evidence(occupancy, person)
    logits = (OCCUPANCY_LOGIT * (body - 0.5) - REFLECTED_LOGIT * cues[:, :, 0]
              - RESIDUAL_LOGIT * cues[:, :, 1] - MISSING_LOGIT * cues[:, :, 2]
              - GHOST_LOGIT * ghost)
    return torch.cat([logits, -OCCUPANCY_LOGIT * (body.amax(1, keepdim=True) - 0.5)], 1)


def source_trust(selection: torch.Tensor, cues: torch.Tensor, known: torch.Tensor,
                 occupancy: torch.Tensor, person: torch.Tensor) -> torch.Tensor:
    """How far the prior trusts each pixel of the composite: selection (B, K + 1, h, w) over
    the K examples and the plate, cues (B, K, POSE_CUES, h, w) (reflected, residual, missing),
    known (B, 1, h, w) the plate's seen scene, occupancy / person as in `prior_logits` ->
    (B, 1, h, w) in [0, 1]. An example is trusted where its warped silhouette agrees with the
    target's body (its person on the body, its background off it) and its part is present,
    fitted without a mirror and with a small residual; the plate where it shows scene an example
    saw, and its inpainted fill away from the target's body (NEAR_BODY)."""
    k = cues.shape[1]
    cues = cues.float()
    body, ghost = body_evidence(occupancy, person)
    agree = body + (1 - occupancy.float()) - ghost  # person on the body, scene off it
    trust = ((1 - cues[:, :, 0]) * (1 - cues[:, :, 1].clamp(0, 1)) * (1 - cues[:, :, 2])
             * agree)
    # the plate: seen scene, and away from the target's body also the inpainter's fill (what
    # the learned layers painted there, trained on dancers who mostly stay in place, was a
    # ghost of the example's person); near the body the fill meets the person: learned
    near = dilate(occupancy.float(), max(1, round(NEAR_BODY * occupancy.shape[-2])))
    plate = known.float() + (1 - known.float()) * (1 - near)
    return ((selection[:, :k] * trust).sum(1, keepdim=True)
            + selection[:, k:] * plate).clamp(0, 1)


def selection_weights(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Selection weights (B, K + 1, h, w) from logits over the K examples and the plate: the
    plate gets its softmax share; the examples share the rest by a softmax at
    EXAMPLE_TEMPERATURE (at K = 1, exactly the plain softmax)."""
    sel = torch.softmax(logits, dim=1)
    among = torch.softmax(logits[:, :k] / EXAMPLE_TEMPERATURE, dim=1)
    return torch.cat([sel[:, :k].sum(1, keepdim=True) * among, sel[:, k:]], 1)


def compose(selection: torch.Tensor, cand: torch.Tensor, plate: torch.Tensor) -> torch.Tensor:
    """Per-pixel blend of the K candidates (B, K, c, H, W) and the plate (B, 3, H, W) by the
    selection (B, K + 1, H, W) -> (B, c, H, W) (the plate has no channels beyond RGB)."""
    k = cand.shape[1]
    out = (selection[:, :k, None] * cand).sum(1)
    return torch.cat([out[:, :3] + selection[:, k:] * plate, out[:, 3:]], 1)


@torch.no_grad()
def prior_warp(sources: ExampleSources, prior: PriorFlow) -> torch.Tensor:
    """The keypoint prior alone, no learning: the examples warped by their prior flows and
    chosen by the fixed logits, the background plate elsewhere -> (B, 3, H, W)."""
    cand = candidates(sources, prior.flow)
    b, k, _, h, w = cand.shape
    person = F.avg_pool2d(cand[:, :, -1:].flatten(0, 1), 2).unflatten(0, (b, k))
    logits = prior_logits(F.avg_pool2d(prior.occupancy, 2), prior.cues, person)
    logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
    sel = selection_weights(logits, k)
    return compose(sel, cand[:, :, :3], sources.plate)
