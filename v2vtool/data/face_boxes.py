"""Face boxes from BODY_25 keypoints: where the face discriminator looks (pose clips).

The dataset computes them per target frame (``"face_boxes"`` in a sample); the face
discriminator crops them (``models.discriminators.crop_boxes``).
"""
from __future__ import annotations

import numpy as np
import torch

# BODY_25 head joints: nose, neck, right/left eye, right/left ear
_HEAD = (0, 15, 16, 17, 18)


def face_boxes_from_pose(pose: np.ndarray | torch.Tensor, scale: float = 2.2,
                         min_size: float = 8.0) -> torch.Tensor:
    """Square face boxes from BODY_25 keypoints (..., 25, 3) in pixels -> (..., 4) (x0, y0, x1,
    y1). The box is centred on the visible head joints (nose, eyes, ears), with side
    ``scale`` x their spread (at least ``min_size``). Rows with fewer than 2 visible head joints
    get (0, 0, 0, 0) = invalid (``valid_boxes``)."""
    pose = torch.as_tensor(pose, dtype=torch.float32)
    head = pose[..., list(_HEAD), :]
    vis = head[..., 2] > 0
    n = vis.sum(-1, keepdim=True).clamp(min=1)
    centre = (head[..., :2] * vis[..., None]).sum(-2) / n
    big = torch.finfo(torch.float32).max
    lo = torch.where(vis[..., None], head[..., :2], torch.full_like(head[..., :2], big)).amin(-2)
    hi = torch.where(vis[..., None], head[..., :2], torch.full_like(head[..., :2], -big)).amax(-2)
    side = ((hi - lo).amax(-1) * scale).clamp(min=min_size)
    half = side[..., None] / 2
    boxes = torch.cat([centre - half, centre + half], dim=-1)
    return torch.where((vis.sum(-1) >= 2)[..., None], boxes, torch.zeros_like(boxes))
