"""Small building blocks shared by the generator's sub-networks."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm

LEAK = 0.2


def sn_conv(in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1, bias: bool = True,
            sn: bool = True) -> nn.Module:
    """Conv2d with 'same' padding (for stride 1), optionally spectrally normalised."""
    conv = nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, bias=bias)
    return spectral_norm(conv) if sn else conv


def act(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, LEAK)


def channels(base: int, level: int, max_channels: int) -> int:
    """Channels at pyramid `level` (0 = full resolution): base * 2**level, capped."""
    return min(base * (2 ** level), max_channels)


def batched_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Per-sample convolution as ONE grouped convolution (paper: generated kernels, eq. 8-10).

    x (B, Cin, H, W); weight (B, Cout, Cin, k, k); bias (B, Cout) or None -> (B, Cout, H, W).
    """
    b, cin, h, w = x.shape
    _, cout, _, k, _ = weight.shape
    if k == 1:  # 1x1 kernels: one batched matmul is the fastest grouped conv on CPU
        w2 = weight.reshape(b, cout, cin)
        x2 = x.reshape(b, cin, h * w)
        if bias is not None:  # fold the bias in as a constant input channel (cheaper than a
            w2 = torch.cat([w2, bias[:, :, None]], dim=2)  # broadcast add over Cout x H x W)
            x2 = torch.cat([x2, x2.new_ones(b, 1, h * w)], dim=1)
        return torch.bmm(w2, x2).reshape(b, cout, h, w)
    out = F.conv2d(x.reshape(1, b * cin, h, w), weight.reshape(b * cout, cin, k, k),
                   bias=None if bias is None else bias.reshape(b * cout), padding=k // 2, groups=b)
    return out.reshape(b, cout, h, w)


def pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """[x, x/2, ..., x/2**levels] by 2x2 average pooling ('area': thin pose lines survive)."""
    out = [x]
    for _ in range(levels):
        out.append(F.avg_pool2d(out[-1], 2))
    return out


class ResBlock(nn.Module):
    """Plain residual block (conv-act-conv + identity), spectral norm; flow net bottleneck."""

    def __init__(self, ch: int):
        super().__init__()
        self.conv0 = sn_conv(ch, ch)
        self.conv1 = sn_conv(ch, ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv1(act(self.conv0(act(x))))
