"""The training objective: named, weighted loss terms; zero-weight terms are skipped.

How the training loop calls it (one generator forward, then D update, then G update)::

    ds = build_discriminators(cfg.generator, cfg.discriminator)   # nn.ModuleDict
    vgg, perceptual_status = load_vgg19()        # None + one loud warning when offline, no file
    out = G(**generator_inputs(batch))   # SequenceOutput (v2vtool.data.dataset)
    d_terms = discriminator_losses(out, batch, ds, cfg.loss)       # uses out.image.detach()
    g_terms = generator_losses(out, batch, ds, cfg.loss, vgg)      # freeze D params around it

``batch`` (a mapping of tensors):
    "images" (B, T, 3, H, W) real frames in [-1, 1]      "semantics" (B, T, C, H, W)
    "examples" (B, K, 3, H, W), "example_semantics" (B, K, C, H, W)
    "flow" (B, T, 2, H, W) ground-truth flow t -> t-1 in px, "flow_conf" (B, T, 1, H, W) in
        {0, 1}: needed when the flow / mask terms are on and the sequence has temporal frames
    "face_boxes" (B, T, 4) pixel (x0, y0, x1, y1), zeros = no face: needed with a "face" D
        (``v2vtool.data.face_boxes.face_boxes_from_pose`` on BODY_25 keypoints)

Terms (LossConfig field -> dict key): generator: gan, feature_matching, temporal_gan,
temporal_feature_matching (weight ``feature_matching``), face_gan, perceptual (only when
``vgg`` is given), l1, gradient, flow, warp, mask. Discriminator: d_gan, d_temporal_gan, d_face_gan.
The image D sees [image, s_t] (+ [warped example e_ref, s_eref] when the D is conditioned on
the example; e_ref = the example the generator chose, ``out.ref_index``). The temporal D sees
windows of consecutive [image, s_t]; terms whose inputs are absent (T too short for the
temporal D, no previous frames for flow / warp / mask) are left out. The face terms are a mean
over the frames with a valid face box (0, with zero gradients, when a batch has none).
Flow / warp / mask terms use frames t >= 1 that had a previous frame (``out.has_prev``); warp
is L1(warp(real_{t-1}, w_t), real_t) (+ L1(warp(e_ref, w_e), real_t) with warp_ref); mask is
L1(m_t, 1 - flow_conf_t).
"""
from __future__ import annotations

from typing import Mapping

import torch
import torch.nn as nn

from v2vtool.config import LossConfig
from v2vtool.losses.feature_matching import feature_matching_loss
from v2vtool.losses.flow import flow_loss, mask_loss, warp_loss
from v2vtool.losses.gan import d_hinge_loss, g_hinge_loss
from v2vtool.losses.perceptual import perceptual_loss
from v2vtool.losses.reconstruction import gradient_loss, l1_loss
from v2vtool.models.discriminators import crop_boxes, valid_boxes
from v2vtool.models.contract import SequenceOutput

Batch = Mapping[str, torch.Tensor]


def _get(discriminators: Mapping[str, nn.Module], name: str) -> nn.Module | None:
    return discriminators[name] if name in discriminators else None


def _need(batch: Batch, key: str, why: str) -> torch.Tensor:
    if key not in batch:
        raise ValueError(f"objective: batch has no {key!r} (needed for {why})")
    return batch[key]


def _image_d_input(images: torch.Tensor, batch: Batch, out: SequenceOutput, d: nn.Module
                   ) -> torch.Tensor:
    """(B, T, 3, H, W) -> (B*T, in_channels, H, W) conditioned input of the image D."""
    parts = [images, batch["semantics"]]
    if getattr(d, "condition_on_example", False):
        b = images.shape[0]
        rows = torch.arange(b, device=images.device)[:, None]
        parts += [batch["examples"][rows, out.ref_index], batch["example_semantics"][rows, out.ref_index]]
    return torch.cat(parts, dim=2).flatten(0, 1)


def _temporal_input(images: torch.Tensor, batch: Batch) -> torch.Tensor:
    return torch.cat([images, batch["semantics"]], dim=2)


def _faces(images: torch.Tensor, batch: Batch, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Face crops of every frame (B*T, 3, size, size) and their validity (B*T,) as 0 / 1.
    Frames without a face are cropped from a dummy box and masked out of the (weighted) face
    losses: no host sync, and the face D gets a (zero) gradient on every rank."""
    boxes = _need(batch, "face_boxes", "the face discriminator").flatten(0, 1).float()
    keep = valid_boxes(boxes)
    boxes = torch.where(keep[:, None], boxes, boxes.new_tensor([0.0, 0.0, 1.0, 1.0]))
    return crop_boxes(images.flatten(0, 1), boxes, size), keep.float()


def _temporal_frames(out: SequenceOutput) -> torch.Tensor | None:
    """Indices t >= 1 with a previous frame (so real_{t-1} is in the batch)."""
    if out.flow is None or out.has_prev is None:
        return None
    idx = torch.nonzero(out.has_prev.cpu()).flatten()
    idx = idx[idx >= 1]
    return idx.to(out.flow.device) if len(idx) else None


def generator_losses(out: SequenceOutput, batch: Batch, discriminators: Mapping[str, nn.Module],
                     weights: LossConfig, vgg: nn.Module | None = None) -> dict[str, torch.Tensor]:
    """Weighted generator terms (see module docstring) -> {name: scalar}."""
    w = weights
    real, fake = batch["images"], out.image
    terms: dict[str, torch.Tensor] = {}
    d_img = _get(discriminators, "image")
    if d_img is not None and (w.gan or w.feature_matching):
        fake_feats = d_img(_image_d_input(fake, batch, out, d_img))
        if w.gan:
            terms["gan"] = w.gan * g_hinge_loss(fake_feats)
        if w.feature_matching:
            with torch.no_grad():
                real_feats = d_img(_image_d_input(real, batch, out, d_img))
            terms["feature_matching"] = w.feature_matching * feature_matching_loss(real_feats, fake_feats)
    d_tmp = _get(discriminators, "temporal")
    if d_tmp is not None and w.temporal_gan:
        fake_feats = d_tmp(_temporal_input(fake, batch))
        if fake_feats:
            terms["temporal_gan"] = w.temporal_gan * g_hinge_loss(fake_feats)
            if w.feature_matching:
                with torch.no_grad():
                    real_feats = d_tmp(_temporal_input(real, batch))
                terms["temporal_feature_matching"] = (
                    w.feature_matching * feature_matching_loss(real_feats, fake_feats))
    d_face = _get(discriminators, "face")
    if d_face is not None and w.face_gan:
        crops, valid = _faces(fake, batch, d_face.size)
        terms["face_gan"] = w.face_gan * g_hinge_loss(d_face(crops), valid)
    if vgg is not None and w.perceptual:
        terms["perceptual"] = w.perceptual * perceptual_loss(vgg, fake.flatten(0, 1), real.flatten(0, 1))
    if w.l1:
        terms["l1"] = w.l1 * l1_loss(fake, real)
    if w.gradient:
        terms["gradient"] = w.gradient * gradient_loss(fake, real)
    sel = _temporal_frames(out)
    if sel is not None:
        if w.flow:
            gt = _need(batch, "flow", "the flow loss")[:, sel].flatten(0, 1)
            conf = _need(batch, "flow_conf", "the flow loss")[:, sel].flatten(0, 1)
            terms["flow"] = w.flow * flow_loss(out.flow[:, sel].flatten(0, 1), gt, conf)
        if w.mask:
            conf = _need(batch, "flow_conf", "the mask loss")[:, sel].flatten(0, 1)
            terms["mask"] = w.mask * mask_loss(out.mask[:, sel].flatten(0, 1), conf)
    if w.warp:
        warp_terms = []
        if sel is not None:
            warp_terms.append(warp_loss(real[:, sel - 1].flatten(0, 1), out.flow[:, sel].flatten(0, 1),
                                        real[:, sel].flatten(0, 1)))
        if out.warped_ref is not None:
            warp_terms.append(l1_loss(out.warped_ref, real))
        if warp_terms:
            terms["warp"] = w.warp * sum(warp_terms)
    return terms


def discriminator_losses(out: SequenceOutput, batch: Batch, discriminators: Mapping[str, nn.Module],
                         weights: LossConfig) -> dict[str, torch.Tensor]:
    """Weighted hinge terms of every discriminator on real vs detached fake -> {name: scalar}."""
    w = weights
    real, fake = batch["images"], out.image.detach()
    terms: dict[str, torch.Tensor] = {}
    d_img = _get(discriminators, "image")
    if d_img is not None and w.gan:
        terms["d_gan"] = w.gan * d_hinge_loss(d_img(_image_d_input(real, batch, out, d_img)),
                                              d_img(_image_d_input(fake, batch, out, d_img)))
    d_tmp = _get(discriminators, "temporal")
    if d_tmp is not None and w.temporal_gan:
        real_feats = d_tmp(_temporal_input(real, batch))
        if real_feats:
            terms["d_temporal_gan"] = w.temporal_gan * d_hinge_loss(
                real_feats, d_tmp(_temporal_input(fake, batch)))
    d_face = _get(discriminators, "face")
    if d_face is not None and w.face_gan:
        real_crops, valid = _faces(real, batch, d_face.size)
        terms["d_face_gan"] = w.face_gan * d_hinge_loss(
            d_face(real_crops), d_face(_faces(fake, batch, d_face.size)[0]), valid)
    return terms
