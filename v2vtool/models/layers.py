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


def is_channels_last(x: torch.Tensor) -> bool:
    """True for a 4-D tensor stored NHWC (and not also NCHW-contiguous, e.g. C = 1)."""
    return x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) \
        and not x.is_contiguous()


def batched_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                   accumulate: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample 1x1 convolution as one batched matmul, in x's memory layout.

    x (B, Cin, H, W); weight (B, Cout, Cin); bias (B, Cout) or (Cout,) or None; accumulate
    (B, Cout, H, W) or None, added in the same pass (``baddbmm``) -> (B, Cout, H, W).
    channels_last x gives a channels_last result without any layout copy.
    """
    b, cin, h, w = x.shape
    cout = weight.shape[1]
    if is_channels_last(x):  # (B, HW, Cin) @ (B, Cin, Cout): views only
        xf = x.permute(0, 2, 3, 1).reshape(b, h * w, cin)
        wf = weight.transpose(1, 2)
        add = None
        if accumulate is not None:
            add = accumulate.permute(0, 2, 3, 1).reshape(b, h * w, cout)
        if bias is not None:
            bias_b = bias.reshape(-1, 1, cout)
            add = bias_b if add is None else add + bias_b
        out = torch.bmm(xf, wf) if add is None else torch.baddbmm(add, xf, wf)
        return out.reshape(b, h, w, cout).permute(0, 3, 1, 2)
    xf = x.reshape(b, cin, h * w)
    add = None if accumulate is None else accumulate.reshape(b, cout, h * w)
    if bias is not None:
        bias_b = bias.reshape(-1, cout, 1)
        add = bias_b if add is None else add + bias_b
    out = torch.bmm(weight, xf) if add is None else torch.baddbmm(add, weight, xf)
    return out.reshape(b, cout, h, w)


def batched_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Per-sample convolution as ONE grouped convolution (paper: generated kernels, eq. 8-10).

    x (B, Cin, H, W); weight (B, Cout, Cin, k, k); bias (B, Cout) or None -> (B, Cout, H, W).
    """
    b, cin, h, w = x.shape
    _, cout, _, k, _ = weight.shape
    if k == 1:  # 1x1 kernels: one batched matmul is the fastest grouped conv on CPU
        return batched_linear(x, weight.reshape(b, cout, cin), bias)
    out = F.conv2d(x.reshape(1, b * cin, h, w), weight.reshape(b * cout, cin, k, k),
                   bias=None if bias is None else bias.reshape(b * cout), padding=k // 2, groups=b)
    return out.reshape(b, cout, h, w)


def instance_norm(x: torch.Tensor) -> torch.Tensor:
    """Parameter-free instance norm (B, C, H, W), eps 1e-5. As group norm with one channel per
    group: one pass, and it keeps channels_last (F.instance_norm copies NHWC input to NCHW)."""
    return F.group_norm(x, x.shape[1], eps=1e-5)


class Fp32Conv2d(nn.Conv2d):
    """A conv whose output must keep fp32 precision (flow heads: a bf16 flow of 40 px is off by
    up to 0.125 px). Runs in fp32 under autocast; the fast path keeps its weights fp32."""

    keep_fp32 = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return self._conv_forward(x.float(), self.weight.float(),
                                      None if self.bias is None else self.bias.float())


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
