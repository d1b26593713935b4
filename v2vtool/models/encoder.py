"""E_F: the example encoder (image + its semantic map -> per-layer appearance features q_l).

The encoder runs in two parts so that K examples can be aggregated in between:

    per example:  [e_k, s_ek] -> stem -> ``attention_downsample`` stride-2 convs -> f_k
                  (B*K, C_A, H/2^A, W/2^A), computed once per video in ``prepare``
    aggregate:    f = sum_k alpha_k f_k (E_A, attention) or mean_k f_k, or f_1 (K = 1)
    appearance:   q_0 = f, q_l = down(q_{l-1}) for l = 1..L-1  (the paper's q_l, eq. 8-10)

Also ``StyleHead``: the style vector of the Table-1 baselines (Encoder / ConcatStyle / AdaIN),
pooled from the deepest appearance feature.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from v2vtool.models.layers import act, channels, sn_conv


class ExampleEncoder(nn.Module):
    """E_F. Args: sem_ch (C), ngf / max_channels (channel rule of H), attention_levels (A),
    n_layers (L, appearance features returned)."""

    def __init__(self, sem_ch: int, ngf: int, max_channels: int, attention_levels: int,
                 n_layers: int):
        super().__init__()
        ch = [channels(ngf, lvl, max_channels) for lvl in range(attention_levels + n_layers)]
        self.stem = sn_conv(3 + sem_ch, ch[0])
        self.down_example = nn.ModuleList(sn_conv(ch[i], ch[i + 1], stride=2)
                                          for i in range(attention_levels))
        a = attention_levels
        self.down_appearance = nn.ModuleList(sn_conv(ch[a + i], ch[a + i + 1], stride=2)
                                             for i in range(n_layers - 1))
        self.feature_channels = ch[a]  # C_A
        self.appearance_channels = [ch[a + i] for i in range(n_layers)]  # channels of q_l

    def encode_examples(self, images: torch.Tensor, semantics: torch.Tensor) -> torch.Tensor:
        """images (N, 3, H, W), semantics (N, C, H, W) -> f (N, C_A, H/2^A, W/2^A)."""
        x = act(self.stem(torch.cat([images, semantics], dim=1)))
        for down in self.down_example:
            x = act(down(x))
        return x

    def appearance(self, feature: torch.Tensor) -> list[torch.Tensor]:
        """Aggregated f (B, C_A, h, w) -> [q_0, ..., q_{L-1}] (q_l at h/2^l, w/2^l)."""
        feats = [feature]
        for down in self.down_appearance:
            feats.append(act(down(feats[-1])))
        return feats


class StyleHead(nn.Module):
    """Baselines' style vector: pooled q_{L-1} (B, C, h, w) -> (B, style_dim)."""

    def __init__(self, in_ch: int, style_dim: int):
        super().__init__()
        self.fc0 = nn.Linear(in_ch, style_dim)
        self.fc1 = nn.Linear(style_dim, style_dim)

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        pooled = F.adaptive_avg_pool2d(feature, 1).flatten(1)
        return self.fc1(act(self.fc0(pooled)))
