"""W / M: flow and soft occlusion-mask network (shared across domains, not generated).

Input: any stack of conditioning maps (e.g. [s_t, s_{t-1}, x_{t-1}] for the temporal warp,
[s_t, s_e, e] for warp_ref). Output: flow (B, 2, H, W) in pixels (network output times
``flow_scale``, reference x20) and mask m (B, 1, H, W) in [0, 1], m = 1 -> trust the
synthesised image, m = 0 -> trust the warped one (paper eq. 11).
Encoder (stride-2 convs) -> residual blocks -> nearest-upsample decoder with skips.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from v2vtool.models.layers import Fp32Conv2d, ResBlock, act, channels, sn_conv


class FlowMaskNet(nn.Module):
    def __init__(self, in_ch: int, ngf: int, n_downsample: int, n_blocks: int,
                 max_channels: int, flow_scale: float, mask_bias: float = 0.0):
        super().__init__()
        ch = [channels(ngf, lvl, max_channels) for lvl in range(n_downsample + 1)]
        self.flow_scale = flow_scale
        self.stem = sn_conv(in_ch, ch[0])
        self.downs = nn.ModuleList(sn_conv(ch[i], ch[i + 1], stride=2) for i in range(n_downsample))
        self.blocks = nn.Sequential(*(ResBlock(ch[-1]) for _ in range(n_blocks)))
        self.ups = nn.ModuleList(sn_conv(ch[i + 1], ch[i]) for i in reversed(range(n_downsample)))
        self.flow_head = Fp32Conv2d(ch[0], 2, 3, padding=1)  # fp32 under bf16 autocast
        self.mask_head = Fp32Conv2d(ch[0], 1, 3, padding=1)
        nn.init.zeros_(self.flow_head.weight)  # start from the identity warp
        nn.init.zeros_(self.flow_head.bias)
        nn.init.constant_(self.mask_head.bias, mask_bias)  # < 0: start trusting the warp

    def forward(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cond (B, in_ch, H, W) -> flow (B, 2, H, W) [pixels], mask (B, 1, H, W)."""
        x = act(self.stem(cond))
        skips = []
        for down in self.downs:
            skips.append(x)
            x = act(down(x))
        x = self.blocks(x)
        for up in self.ups:
            x = act(up(F.interpolate(x, scale_factor=2.0, mode="nearest"))) + skips.pop()
        return self.flow_head(x) * self.flow_scale, torch.sigmoid(self.mask_head(x))
