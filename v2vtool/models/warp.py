"""Backward warping with a dense pixel flow: THE one place that calls ``grid_sample``.

``warp(image, flow)[b, :, y, x] = image[b, :, y + flow[b, 1, y, x], x + flow[b, 0, y, x]]``
(bilinear, border padding). Flow is in pixels of the image it warps: channel 0 = dx, 1 = dy.
Used for x~_{t-1} = warp(x_{t-1}, w_t) (paper eq. 11) and for warping the example (warp_ref).

Precision: the flow, the sampling grid and the sampling itself are always fp32, also under
bf16 autocast and for bf16 images (a bf16 grid has 8 mantissa bits: pixel 257 of a 512-px row
cannot be addressed). The result comes back in the image's dtype.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _base_grid(height: int, width: int, device, dtype) -> torch.Tensor:
    ys = torch.arange(height, device=device, dtype=dtype)
    xs = torch.arange(width, device=device, dtype=dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((gx, gy), dim=0)  # (2, H, W) pixel coordinates (x, y)


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Warp ``image`` (B, C, H, W) by ``flow`` (B, 2, H, W) in pixels -> (B, C, H, W).

    Output pixel p samples the input at p + flow(p) (bilinear; outside the image the border
    value is used). A flow of all ``-d`` along x therefore shifts the content right by d.
    """
    if image.dim() != 4 or flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(f"warp expects image (B,C,H,W) and flow (B,2,H,W), got "
                         f"{tuple(image.shape)} and {tuple(flow.shape)}")
    if image.shape[0] != flow.shape[0] or image.shape[2:] != flow.shape[2:]:
        raise ValueError(f"warp: image {tuple(image.shape)} and flow {tuple(flow.shape)} differ")
    _, _, height, width = image.shape
    with torch.autocast(image.device.type, enabled=False):
        coords = _base_grid(height, width, image.device, torch.float32).unsqueeze(0) + flow.float()
        # align_corners=True: -1 / +1 are the centres of the first / last pixels
        gx = coords[:, 0] * (2.0 / max(width - 1, 1)) - 1.0
        gy = coords[:, 1] * (2.0 / max(height - 1, 1)) - 1.0
        grid = torch.stack((gx, gy), dim=-1)  # (B, H, W, 2)
        out = F.grid_sample(image.float(), grid, mode="bilinear", padding_mode="border",
                            align_corners=True)
    return out.to(image.dtype)
