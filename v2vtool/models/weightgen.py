"""E_P: network weight generation (paper eq. 8-10).

Per adaptive SPADE block l an MLP maps the globally pooled appearance feature q_l to that
block's SPADE branch weights theta_l = (theta_S, theta_gamma, theta_beta) + biases, one set
per sample. Weights are returned raw (O(1)); the block scales them by 1/sqrt(fan_in).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from v2vtool.models.layers import act


class _LayerMLP(nn.Module):
    def __init__(self, in_ch: int, hidden: int, shapes: dict[str, tuple[int, ...]]):
        super().__init__()
        self.shapes = dict(shapes)
        self.sizes = [math.prod(s) for s in self.shapes.values()]
        self.fc0 = nn.Linear(in_ch, hidden)
        self.fc1 = nn.Linear(hidden, sum(self.sizes))

    def forward(self, q: torch.Tensor) -> dict[str, torch.Tensor]:
        pooled = F.adaptive_avg_pool2d(q, 1).flatten(1)  # (B, C_l)
        flat = self.fc1(act(self.fc0(pooled)))  # (B, sum sizes)
        b = flat.shape[0]
        return {name: chunk.reshape(b, *shape) for (name, shape), chunk
                in zip(self.shapes.items(), torch.split(flat, self.sizes, dim=1))}


class WeightGenerator(nn.Module):
    """E_P. in_channels[l]: channels of q_l; shapes[l]: the generated tensors of block l."""

    def __init__(self, in_channels: list[int], shapes: list[dict[str, tuple[int, ...]]],
                 hidden: int):
        super().__init__()
        if len(in_channels) != len(shapes):
            raise ValueError("one appearance feature per adaptive layer is needed")
        self.mlps = nn.ModuleList(_LayerMLP(c, hidden, s) for c, s in zip(in_channels, shapes))

    def forward(self, features: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        """[q_0 (B, C_0, h, w), ...] -> per adaptive layer {name: (B, *shape)}."""
        return [mlp(q) for mlp, q in zip(self.mlps, features)]
