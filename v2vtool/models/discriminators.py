"""Discriminators: multi-scale PatchGAN, temporal PatchGAN, face-crop PatchGAN.

Every discriminator returns *feature lists*: one list per scale, holding each layer's output;
the last entry of a list is the patch logits (used by the hinge loss), the others feed the
feature-matching loss.

* ``ImageDiscriminator(cfg, in_channels)``: ``cfg.n_scales`` PatchGANs (4x4 convs, spectral
  norm, ``cfg.n_layers`` stride-2 layers, ``cfg.ndf`` base channels) on the input and its 2x
  average-pooled copies. Input (N, in_channels, H, W): image + semantic map (+ example + its
  semantics, see ``image_d_channels``).
* ``TemporalDiscriminator(cfg, in_channels)``: ``cfg.temporal_scales`` PatchGANs; scale s sees
  every window of ``cfg.temporal_frames`` frames taken with stride 2**s, channel-concatenated
  (vid2vid's D_V). Input (B, T, in_channels, H, W); scales whose window does not fit T are
  skipped.
* ``FaceDiscriminator(cfg, in_channels)``: one PatchGAN on ``cfg.face_size``^2 crops
  (``crop_boxes``) located from the face keypoints (``v2vtool.data.face_boxes``).

``build_discriminators(gen_cfg, d_cfg) -> nn.ModuleDict`` with keys "image", "temporal",
"face" (the enabled ones).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm
from torchvision.ops import roi_align

from v2vtool.config import DiscriminatorConfig, GeneratorConfig
from v2vtool.errors import UserError
from v2vtool.models.layers import LEAK
from v2vtool.semantics.kinds import get_kind

Features = list[list[torch.Tensor]]  # [scale][layer] (N, C, h, w); last layer = logits


class PatchGAN(nn.Module):
    """pix2pix-style PatchGAN: n_layers stride-2 4x4 convs, one stride-1, 1-channel logits."""

    def __init__(self, in_channels: int, ndf: int, n_layers: int, max_channels: int = 512):
        super().__init__()
        layers = []
        ch_in, ch = in_channels, ndf
        for i in range(n_layers + 1):
            stride = 2 if i < n_layers else 1
            layers.append(spectral_norm(nn.Conv2d(ch_in, ch, 4, stride=stride, padding=1)))
            ch_in, ch = ch, min(ch * 2, max_channels)
        self.layers = nn.ModuleList(layers)
        self.head = spectral_norm(nn.Conv2d(ch_in, 1, 4, stride=1, padding=1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for layer in self.layers:
            x = F.leaky_relu(layer(x), LEAK)
            feats.append(x)
        feats.append(self.head(x))
        return feats


class ImageDiscriminator(nn.Module):
    """Multi-scale conditional PatchGAN. forward (N, in_channels, H, W) -> Features."""

    def __init__(self, cfg: DiscriminatorConfig, in_channels: int):
        super().__init__()
        self.in_channels = in_channels
        self.condition_on_example = cfg.condition_on_example
        self.nets = nn.ModuleList(PatchGAN(in_channels, cfg.ndf, cfg.n_layers)
                                  for _ in range(cfg.n_scales))

    def forward(self, x: torch.Tensor) -> Features:
        out = []
        for i, net in enumerate(self.nets):
            if i > 0:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            out.append(net(x))
        return out


class TemporalDiscriminator(nn.Module):
    """Temporal PatchGAN over windows of F consecutive frames at several temporal strides."""

    def __init__(self, cfg: DiscriminatorConfig, in_channels: int):
        super().__init__()
        self.frames = cfg.temporal_frames
        self.nets = nn.ModuleList(PatchGAN(in_channels * cfg.temporal_frames, cfg.ndf, cfg.n_layers)
                                  for _ in range(cfg.temporal_scales))

    def min_frames(self, scale: int = 0) -> int:
        return (self.frames - 1) * 2 ** scale + 1

    def forward(self, clip: torch.Tensor) -> Features:
        """clip (B, T, C, H, W) -> one feature list per temporal scale that fits T."""
        b, t, c, h, w = clip.shape
        out = []
        for s, net in enumerate(self.nets):
            stride = 2 ** s
            span = (self.frames - 1) * stride + 1
            if t < span:
                break
            # all windows at once: (B, nW, F, C, H, W) -> (B*nW, F*C, H, W)
            starts = torch.arange(t - span + 1, device=clip.device)
            idx = starts[:, None] + stride * torch.arange(self.frames, device=clip.device)[None]
            windows = clip[:, idx]  # (B, nW, F, C, H, W)
            out.append(net(windows.reshape(-1, self.frames * c, h, w)))
        return out


class FaceDiscriminator(nn.Module):
    """PatchGAN on face crops (N, in_channels, face_size, face_size) -> Features (one scale)."""

    def __init__(self, cfg: DiscriminatorConfig, in_channels: int):
        super().__init__()
        self.size = cfg.face_size
        self.net = PatchGAN(in_channels, cfg.ndf, max(1, min(cfg.n_layers, 3)))

    def forward(self, crops: torch.Tensor) -> Features:
        return [self.net(crops)]


def crop_boxes(images: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Crop + resize boxes in one op. images (N, C, H, W), boxes (N, 4) pixel (x0, y0, x1, y1)
    -> (N, C, size, size) in the images' dtype (bilinear, differentiable w.r.t. the images).

    Boxes and their frame index stay fp32 (also for bf16 images / under autocast): in bf16
    the index 257 rounds to 256 and box corners move by up to 2 px at 512 px."""
    boxes = boxes.float()
    index = torch.arange(len(boxes), device=boxes.device, dtype=torch.float32)[:, None]
    with torch.autocast(images.device.type, enabled=False):
        crops = roi_align(images.float(), torch.cat([index, boxes], dim=1), output_size=size,
                          aligned=True)
    return crops.to(images.dtype)


def valid_boxes(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) -> (...) bool: box has positive area."""
    return (boxes[..., 2] > boxes[..., 0]) & (boxes[..., 3] > boxes[..., 1])


def image_d_channels(gen_cfg: GeneratorConfig, d_cfg: DiscriminatorConfig) -> int:
    c = gen_cfg.semantic_nc
    return 3 + c + ((3 + c) if d_cfg.condition_on_example else 0)


def build_discriminators(gen_cfg: GeneratorConfig, d_cfg: DiscriminatorConfig) -> nn.ModuleDict:
    """The enabled discriminators: "image" always, "temporal" if d_cfg.temporal, "face" if
    d_cfg.face (body-keypoint kinds, i.e. pose: face boxes come from BODY_25 keypoints)."""
    c = gen_cfg.semantic_nc
    if d_cfg.face and not get_kind(gen_cfg.kind).body:
        raise UserError(f"discriminator.face=true needs generator.kind=pose (got {gen_cfg.kind!r})")
    ds = nn.ModuleDict({"image": ImageDiscriminator(d_cfg, image_d_channels(gen_cfg, d_cfg))})
    if d_cfg.temporal:
        ds["temporal"] = TemporalDiscriminator(d_cfg, 3 + c)
    if d_cfg.face:
        ds["face"] = FaceDiscriminator(d_cfg, 3)
    return ds
