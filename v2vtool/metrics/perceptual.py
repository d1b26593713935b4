"""LPIPS (Zhang et al. 2018) with the AlexNet backbone from torchvision's published file.

The lpips package ships its linear calibration layers; the backbone comes from
`v2vtool.io.pretrained.resolve("alexnet")` (`--lpips-backbone PATH`, else the torch hub cache or
a weights/ folder, else a checked download into the hub cache unless offline).
`lpips.LPIPS(pretrained=True)` would download it unchecked through torchvision, so the backbone is
built randomly initialised (`pnet_rand=True`) and then overwritten from the file. When there is no
file, `MetricUnavailable` names the exact path to put it at; LPIPS is never computed with a
random backbone.
"""
from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from v2vtool.io import pretrained
from v2vtool.metrics.common import MetricUnavailable, to_tensor01

log = logging.getLogger(__name__)

BACKBONES = {"alex": "alexnet"}  # LPIPS net -> v2vtool.io.pretrained entry


@dataclass(frozen=True)
class LPIPSModel:
    net: nn.Module
    backbone_path: Path
    kind: str


def load_lpips(net: str = "alex", backbone: str | os.PathLike | None = None,
               device: str = "cpu", fetch: bool = True) -> LPIPSModel:
    """LPIPS with the backbone from its file (fetched when missing, unless `fetch` is False or
    offline); MetricUnavailable when there is none."""
    if net not in BACKBONES:
        raise ValueError(f"LPIPS net must be one of {sorted(BACKBONES)}")
    try:
        path = pretrained.resolve(BACKBONES[net], backbone, fetch=fetch)
    except pretrained.WeightsUnavailable as exc:
        raise MetricUnavailable(f"LPIPS unavailable: {exc}") from None
    import lpips

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = lpips.LPIPS(pretrained=True, net=net, pnet_rand=True, verbose=False)
    try:  # weights_only: torch's restricted unpickler (tensors and containers only)
        tv_state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user-facing fact
        raise MetricUnavailable(f"LPIPS unavailable: {path}: not a readable PyTorch state dict "
                                f"({type(exc).__name__})") from None
    if not isinstance(tv_state, dict):
        raise MetricUnavailable(f"LPIPS unavailable: {path}: not a state dict")
    own = model.net.state_dict()
    new = {}
    for key in own:  # "sliceK.IDX.weight" <- torchvision "features.IDX.weight"
        idx_param = key.split(".", 1)[1]
        src = f"features.{idx_param}"
        if src not in tv_state:
            raise MetricUnavailable(f"LPIPS unavailable: {path}: missing {src} (not torchvision "
                                    f"{net} weights)")
        new[key] = tv_state[src]
    try:
        model.net.load_state_dict(new)
    except RuntimeError as exc:
        raise MetricUnavailable(f"LPIPS unavailable: {path}: does not match torchvision {net} "
                                f"({str(exc).splitlines()[0][:120]})") from None
    model = model.eval().to(device)
    for p in model.parameters():
        p.requires_grad_(False)
    return LPIPSModel(model, path, net)


@torch.no_grad()
def lpips_distance(model: LPIPSModel, generated: np.ndarray, truth: np.ndarray,
                   device: str = "cpu") -> float:
    """LPIPS between two (H, W, 3) uint8 frames (lower = more similar)."""
    a = to_tensor01([generated]).to(device) * 2 - 1
    b = to_tensor01([truth]).to(device) * 2 - 1
    return float(model.net(a, b).mean())
