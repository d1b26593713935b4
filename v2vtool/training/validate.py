"""Held-out validation: reconstruction of test identities vs the copy-the-example baseline.

For fixed held-out samples (K = 1, T frames, no augmentation) the generator (EMA when present)
synthesises the target frames from the example and the target semantics; we report mean L1
and PSNR against the real frames in [0, 1] units, and the same figures for the trivial
baseline "output the K = 1 example image unchanged". A model that has learned anything about
the pose / layout must end clearly below the baseline's L1 (and above its PSNR).
"""
from __future__ import annotations

import math

import torch

from v2vtool.data.dataset import FewShotDataset, SampleKey
from v2vtool.metrics.reconstruction import psnr_tensor as psnr


def _stack(samples: list[dict]) -> dict[str, torch.Tensor]:
    return {k: torch.stack([s[k] for s in samples]) for k in samples[0]}


class Validator:
    """Loads the fixed held-out batch once; `__call__(generator)` returns the figures."""

    def __init__(self, dataset: FewShotDataset, keys: list[SampleKey], batch_size: int,
                 device: torch.device):
        self.batches = []
        for i in range(0, len(keys), batch_size):
            self.batches.append(_stack([dataset[k] for k in keys[i:i + batch_size]]))
        self.device = device
        self.n_items = len(keys)
        self.baseline = self._baseline()  # fixed data: the copy baseline is computed once

    def _baseline(self) -> dict[str, float]:
        """"Output the K = 1 example unchanged": summed per-frame L1 and PSNR."""
        sums = {"baseline_l1": 0.0, "baseline_psnr": 0.0}
        for batch in self.batches:
            real = (batch["images"] + 1) / 2
            copy = ((batch["examples"][:, :1] + 1) / 2).expand_as(real).flatten(0, 1)
            real = real.flatten(0, 1)
            sums["baseline_l1"] += float((copy - real).abs().flatten(1).mean(1).sum())
            sums["baseline_psnr"] += float(psnr(copy, real).sum())
        return sums

    @torch.no_grad()
    def __call__(self, generator: torch.nn.Module) -> dict[str, float]:
        was_training = generator.training
        generator.eval()
        sums = {"l1": 0.0, "psnr": 0.0, **self.baseline}
        count = 0
        for batch in self.batches:
            out = generator(batch["examples"].to(self.device),
                            batch["example_semantics"].to(self.device),
                            batch["semantics"].to(self.device))
            fake = ((out.image.float().clamp(-1, 1) + 1) / 2).flatten(0, 1)
            real = ((batch["images"].to(self.device) + 1) / 2).flatten(0, 1)
            sums["l1"] += float((fake - real).abs().flatten(1).mean(1).sum())
            sums["psnr"] += float(psnr(fake, real).sum())
            count += real.shape[0]
        generator.train(was_training)
        res: dict[str, float] = {k: v / max(1, count) for k, v in sums.items()}
        res["items"] = self.n_items
        res["frames"] = count
        return {k: (round(v, 5) if isinstance(v, float) and math.isfinite(v) else v)
                for k, v in res.items()}
