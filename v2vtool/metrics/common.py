"""Shared helpers of the metrics package: the unavailable-metric error, frame checks (weight
files are found by `v2vtool.io.pretrained`)."""
from __future__ import annotations

import numpy as np
import torch


class MetricUnavailable(Exception):
    """A metric cannot be computed here (e.g. its network weights are missing and were not
    downloaded). The message says exactly which file is missing and where to put it."""


def as_uint8_rgb(img: np.ndarray, name: str = "image") -> np.ndarray:
    """Validate an (H, W, 3) uint8 RGB frame."""
    a = np.asarray(img)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise ValueError(f"{name}: expected (H, W, 3) uint8, got {a.shape} {a.dtype}")
    return a


def to_tensor01(frames: list[np.ndarray] | np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [0, 1]."""
    arr = np.stack([as_uint8_rgb(f) for f in frames]) if isinstance(frames, list) else frames
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).float() / 255.0
