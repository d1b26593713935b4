"""Shared helpers of the metrics package: the unavailable-metric error, weight-file lookup,
frame checks."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from v2vtool.resources import weights_root, weights_roots


class MetricUnavailable(Exception):
    """A metric cannot be computed here (e.g. its network weights are not present locally).

    The message says exactly which file is missing and where to put it."""


def repo_weights_dir() -> Path:
    """The `weights/` folder in use (v2vtool.resources: $V2V_WEIGHTS, the source tree's, or the
    installed share/v2vtool/weights)."""
    return weights_root()


def hub_checkpoints_dir() -> Path:
    """torch hub's checkpoint cache ($TORCH_HOME/hub/checkpoints), never written by us."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def find_weight_file(file_name: str, explicit: str | os.PathLike | None = None,
                     subdirs: tuple[str, ...] = ("",)) -> Path | None:
    """Look for `file_name`: the explicit path (must exist), then weights/<subdir>/ (every
    weights folder of v2vtool.resources, then ./weights), then the torch hub cache. Returns None
    when nowhere."""
    if explicit is not None:
        p = Path(explicit)
        return p if p.is_file() else None
    candidates = [root / s / file_name for root in weights_roots() for s in subdirs]
    candidates += [Path.cwd() / "weights" / s / file_name for s in subdirs]
    candidates.append(hub_checkpoints_dir() / file_name)
    for c in candidates:
        if c.is_file():
            return c
    return None


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
