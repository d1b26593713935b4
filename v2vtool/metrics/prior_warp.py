"""The "prior warp" baseline: the keypoint prior flows alone, no learning.

Each example is warped to the driving keypoints by the analytic prior (per-part similarity
transforms with soft part assignment: semantics/prior.py), the examples are chosen per pixel by
the fixed logits the generator starts from (body pixels from the examples whose parts fit without
a mirror), and the background comes from the first example with its person filled in
(models/example_warp.py). It is what the keypoint-prior generator outputs before training: the
floor that training has to raise.
"""
from __future__ import annotations

import numpy as np
import torch

from v2vtool.data.augment import to_tensor_image
from v2vtool.models.example_warp import ExampleWarp, prior_warp
from v2vtool.semantics.kinds import get_kind


def _uint8(x: torch.Tensor) -> np.ndarray:
    return ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


@torch.no_grad()
def prior_warp_frames(examples: list[np.ndarray], example_keypoints: list[np.ndarray],
                      driving: list[np.ndarray], kind: str = "pose",
                      background: np.ndarray | None = None,
                      people: list[np.ndarray] | None = None,
                      plate: tuple[np.ndarray, np.ndarray] | None = None) -> list[np.ndarray]:
    """examples: K x (H, W, 3) uint8; example_keypoints / driving: (J, 3) arrays in their frame's
    pixels (the kind's prior layout); background: (K, 2, 3) output px -> example px of the
    static scene (the synthesizer's `background`), or None; people: K x (H, W) bool the
    examples' own person and plate: (image (H, W, 3) uint8, seen (H, W) bool) the scene behind
    them (the synthesizer's `examples.people` / `plate`; None: keypoints only, push-pull
    plate) -> one (H, W, 3) uint8 frame per driving pose."""
    spec = get_kind(kind)
    h, w = examples[0].shape[:2]
    images = torch.stack([to_tensor_image(e) for e in examples])[None]  # (1, K, 3, H, W)
    kp = torch.from_numpy(np.stack(example_keypoints).astype(np.float32))[None]  # (1, K, J, 3)
    flat = kp.flatten(0, 1)
    occ = spec.prior(flat, flat[:, None], h, w).occupancy[None]  # (1, K, 1, H, W)
    bg = None if background is None else torch.from_numpy(np.asarray(background, np.float32))[None]
    masks = (None if people is None else
             torch.from_numpy(np.stack(people).astype(np.float32))[None, :, None])
    plate_t = (None if plate is None else torch.cat([
        to_tensor_image(plate[0]), torch.from_numpy(plate[1][None].astype(np.float32))])[None])
    sources = ExampleWarp.prepare(images, torch.zeros(1, len(examples), 0, h, w), kp, occ, bg,
                                  masks, plate_t)
    out = []
    for pose in driving:
        target = torch.from_numpy(np.asarray(pose, np.float32))[None]
        out.append(_uint8(prior_warp(sources, spec.prior(target, kp, h, w, background=bg))[0]))
    return out
