"""E_A: attention over the K examples (paper Sec. 3.2, Fig. 7c).

A key net on each example's semantic map gives a_k (c x N), a query net on the current s_t
gives a_t; both are conv nets that downsample 2x ``levels`` times (reference: twice, 128 ch).
alpha = softmax over all K*N positions of a_k^T a_t / sqrt(c); the appearance feature at each
query position is sum_{k,i} alpha f_k[i]. The attention map returned per example is the
attention mass on that example at each query position (sums to 1 over K).

Implemented with ``scaled_dot_product_attention`` (memory-efficient kernels: the K*N x N
matrix is never materialised on CPU/GPU flash paths). The per-example mass comes out of the
same call by appending a one-hot example indicator to the values; q/k/v are zero-padded to
one head size (padding does not change the dot products), a multiple of 16: the fused kernels
need equal q/k/v head sizes, and on CPU a size of 136 runs 2.3x slower than 144.
The attention runs in fp32 also under bf16 autocast (logits and softmax keep full precision;
on CPU the bf16 kernel is no faster).

Cost per frame: (K*N) x N x (c + C_A + K) multiply-adds; N = H*W / 4**levels. This is the part
of a step that grows with K (everything else of E is computed once in ``prepare``): at
``levels`` = 2 it roughly doubles a pose-256 step at K = 4; ``levels`` = 3 cuts it 16x.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from v2vtool.models.layers import act, sn_conv


class _DownNet(nn.Module):
    def __init__(self, in_ch: int, ch: int, levels: int):
        super().__init__()
        self.stem = sn_conv(in_ch, ch)
        self.downs = nn.ModuleList(sn_conv(ch, ch, stride=2) for _ in range(levels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for down in self.downs:
            x = down(act(x))
        return x


class ExampleAttention(nn.Module):
    """E_A. sem_ch: C; ch: key/query channels c; levels: 2x downsamplings."""

    def __init__(self, sem_ch: int, ch: int, levels: int):
        super().__init__()
        self.ch = ch
        self.key_net = _DownNet(sem_ch, ch, levels)
        self.query_net = _DownNet(sem_ch, ch, levels)

    def keys(self, example_semantics: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> keys (N, c, H/2^levels, W/2^levels)."""
        return self.key_net(example_semantics)

    def forward(self, keys: torch.Tensor, features: torch.Tensor, semantic: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """keys (B, K, c, h, w), features (B, K, F, h, w), semantic s_t (B, C, H, W)
        -> (aggregated feature (B, F, h, w), attention (B, K, h, w))."""
        b, k, c, h, w = keys.shape
        f = features.shape[2]
        query = self.query_net(semantic)  # (B, c, h, w)
        if query.shape[-2:] != (h, w):
            raise ValueError(f"query grid {tuple(query.shape[-2:])} != key grid {(h, w)}")
        n = h * w
        dim = -(-max(c, f + k) // 16) * 16  # one head size, a multiple of 16
        with torch.autocast(semantic.device.type, enabled=False):
            q = query.float().permute(0, 2, 3, 1).reshape(b, n, c)  # (B, N, c)
            kk = keys.float().permute(0, 1, 3, 4, 2).reshape(b, k * n, c)  # (B, K*N, c)
            onehot = torch.eye(k, device=keys.device, dtype=torch.float32)
            onehot = onehot[None, :, None, :].expand(b, k, n, k)
            v = torch.cat([features.float().permute(0, 1, 3, 4, 2).reshape(b, k, n, f), onehot],
                          dim=-1).reshape(b, k * n, f + k)
            q = F.pad(q, (0, dim - c))
            kk = F.pad(kk, (0, dim - c))
            v = F.pad(v, (0, dim - f - k))
            out = F.scaled_dot_product_attention(q[:, None], kk[:, None], v[:, None],
                                                 scale=1.0 / math.sqrt(c))[:, 0]  # (B, N, dim)
        # (B, h, w, F) viewed as (B, F, h, w): channels_last, as the fast path runs
        aggregated = out[..., :f].reshape(b, h, w, f).permute(0, 3, 1, 2)
        attention = out[..., f:f + k].reshape(b, h, w, k).permute(0, 3, 1, 2)
        return aggregated.to(features.dtype), attention
