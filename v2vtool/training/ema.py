"""Exponential moving average of the generator's weights (used for synthesis when present).

decay_n = min(decay, (1 + n) / (10 + n)) after n updates: the usual warm-up, so that a short
run's EMA is not dominated by the random initial weights (with 0.999 from step 0, 82 % of the
average would still be the initialisation after 200 steps). `updates` is saved with the
trainer state, so a resumed run continues the same average.
"""
from __future__ import annotations

import copy

import torch


class EMA:
    """ema = d * ema + (1 - d) * w after every generator step; buffers are copied."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: torch.nn.Module, skipped: torch.Tensor | None = None) -> None:
        """skipped: a device scalar, 1 when the optimiser step was skipped on the device (the
        weights did not move; the average is left alone without a host sync)."""
        d = self.current_decay()
        weight = 1.0 - d if skipped is None else (1.0 - d) * (1.0 - skipped.float())
        for e, p in zip(self.model.parameters(), model.parameters()):
            e.lerp_(p.detach(), weight)
        for e, b in zip(self.model.buffers(), model.buffers()):
            e.copy_(b)
        self.updates += 1
