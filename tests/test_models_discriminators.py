"""Discriminators: feature-list shapes, temporal windows, face crops, backward."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from v2vtool.config import DiscriminatorConfig, GeneratorConfig
from v2vtool.data.face_boxes import face_boxes_from_pose
from v2vtool.errors import UserError
from v2vtool.models.discriminators import (FaceDiscriminator, ImageDiscriminator,
                                           TemporalDiscriminator, build_discriminators,
                                           crop_boxes, image_d_channels, valid_boxes)

D_CFG = DiscriminatorConfig(ndf=8, n_layers=3, n_scales=2, temporal_frames=3, temporal_scales=2,
                            face=True, face_size=32)


def test_image_discriminator_multiscale_features_and_backward():
    d = ImageDiscriminator(D_CFG, 12)
    x = torch.rand(4, 12, 64, 64, requires_grad=True)
    feats = d(x)
    assert len(feats) == 2 and all(len(f) == 5 for f in feats)
    assert feats[0][-1].shape[:2] == (4, 1) and feats[1][-1].shape[:2] == (4, 1)
    assert feats[1][-1].shape[-1] < feats[0][-1].shape[-1]  # coarser scale
    assert feats[0][0].shape == (4, 8, 32, 32)
    sum(f[-1].mean() for f in feats).backward()
    assert x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in d.parameters())


def test_temporal_discriminator_scales_follow_sequence_length():
    d = TemporalDiscriminator(D_CFG, 6)
    assert d.min_frames(0) == 3 and d.min_frames(1) == 5
    assert d(torch.rand(2, 2, 6, 32, 32)) == []
    three = d(torch.rand(2, 3, 6, 32, 32))
    assert len(three) == 1 and three[0][-1].shape[0] == 2 * 1  # one window per sample
    six = d(torch.rand(2, 6, 6, 32, 32))
    assert len(six) == 2
    assert six[0][-1].shape[0] == 2 * 4 and six[1][-1].shape[0] == 2 * 2  # windows: T-span+1
    sum(f[-1].mean() for f in six).backward()
    assert all(p.grad is not None for p in d.parameters())


def test_temporal_windows_are_consecutive_frames():
    d = TemporalDiscriminator(replace(D_CFG, temporal_scales=1), 1)
    clip = torch.arange(4.0).view(1, 4, 1, 1, 1).expand(1, 4, 1, 32, 32)
    seen = {}
    d.nets[0].layers[0].register_forward_pre_hook(lambda m, a: seen.setdefault("x", a[0]))
    d(clip)
    assert seen["x"][:, :, 0, 0].tolist() == [[0, 1, 2], [1, 2, 3]]


def test_face_boxes_crops_and_face_discriminator():
    pose = np.zeros((2, 25, 3), np.float32)
    pose[0, [0, 15, 16, 17, 18]] = [[50, 40, 1], [46, 36, 1], [54, 36, 1], [42, 38, 1], [58, 38, 1]]
    boxes = face_boxes_from_pose(pose)
    assert boxes.shape == (2, 4)
    assert valid_boxes(boxes).tolist() == [True, False]
    cx, cy = (boxes[0, 0] + boxes[0, 2]) / 2, (boxes[0, 1] + boxes[0, 3]) / 2
    assert abs(float(cx) - 50) < 1e-4 and abs(float(cy) - 37.6) < 1e-4
    img = torch.zeros(1, 3, 96, 96)
    img[:, :, 30:50, 40:60] = 1
    crop = crop_boxes(img, torch.tensor([[40.0, 30.0, 60.0, 50.0]]), 16)
    assert crop.shape == (1, 3, 16, 16) and crop[:, :, 2:-2, 2:-2].min() > 0.99
    d = FaceDiscriminator(D_CFG, 3)
    feats = d(torch.rand(3, 3, 32, 32, requires_grad=True))
    assert len(feats) == 1 and feats[0][-1].shape[:2] == (3, 1)



def test_crop_boxes_reads_the_right_frame_with_many_bf16_boxes():
    """300 frames (> 256): the frame index and the box corners must stay fp32 for bf16 images
    (train.amp=bf16); a bf16 index sent box 257 to frame 256."""
    n = 300
    frames = torch.arange(n, dtype=torch.float32)[:, None, None, None].expand(n, 1, 24, 600)
    frames = frames + torch.linspace(0, 0.5, 600)  # a horizontal ramp: the x position shows too
    boxes = torch.tensor([[500.0, 4.0, 520.0, 20.0]]).repeat(n, 1)
    expected = crop_boxes(frames, boxes, 8)
    imgs = frames.to(torch.bfloat16)  # bf16 cannot hold 257.x exactly: compare frame ids
    with torch.autocast("cpu", dtype=torch.bfloat16):
        crops = crop_boxes(imgs, boxes.to(torch.bfloat16), 8)
    assert crops.dtype == torch.bfloat16 and crops.shape == (n, 1, 8, 8)
    err = (crops.float() - expected).abs().amax(dim=(1, 2, 3))
    assert float(err.max()) <= 1.0  # bf16 rounding of values up to 300 (ulp 2), never a frame
    wrong = (crops.float().mean(dim=(1, 2, 3)) - torch.arange(n)).abs() > 1.5
    assert not wrong.any(), f"crops from the wrong frame: {wrong.nonzero().flatten().tolist()}"

def test_build_discriminators():
    gen = GeneratorConfig(kind="pose")
    ds = build_discriminators(gen, D_CFG)
    assert set(ds) == {"image", "temporal", "face"}
    assert ds["image"].in_channels == image_d_channels(gen, D_CFG) == 12
    assert image_d_channels(gen, replace(D_CFG, condition_on_example=False)) == 6
    ds = build_discriminators(gen, replace(D_CFG, temporal=False, face=False))
    assert set(ds) == {"image"}
    with pytest.raises(UserError):
        build_discriminators(GeneratorConfig(kind="face"), D_CFG)
