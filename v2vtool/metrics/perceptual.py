"""LPIPS (Zhang et al. 2018) with locally present weights only.

The lpips package ships its linear calibration layers; the backbone (torchvision AlexNet or
VGG16, ImageNet) must already be in the torch hub cache or weights/ — `lpips.LPIPS(
pretrained=True)` would download it, so the backbone is built randomly initialised without any
download (`pnet_rand=True`) and then overwritten from the local file. When the file is missing,
`MetricUnavailable` names it; LPIPS is never computed with a random backbone.
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

from v2vtool.metrics.common import (MetricUnavailable, find_weight_file, hub_checkpoints_dir,
                                    repo_weights_dir, to_tensor01)

log = logging.getLogger(__name__)

BACKBONE_FILES = {
    "alex": ("alexnet-owt-7be5be79.pth", "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"),
    "vgg": ("vgg16-397923af.pth", "https://download.pytorch.org/models/vgg16-397923af.pth"),
}


def lpips_unavailable_message(net: str = "alex") -> str:
    name, url = BACKBONE_FILES[net]
    return (f"LPIPS unavailable: backbone weights file {name} not found; download it from {url} "
            f"and put it in {hub_checkpoints_dir()}/ or {repo_weights_dir()}/")


@dataclass(frozen=True)
class LPIPSModel:
    net: nn.Module
    backbone_path: Path
    kind: str


def load_lpips(net: str = "alex", backbone: str | os.PathLike | None = None,
               device: str = "cpu") -> LPIPSModel:
    """LPIPS with the backbone from a local file (raises MetricUnavailable when missing)."""
    if net not in BACKBONE_FILES:
        raise ValueError(f"LPIPS net must be one of {sorted(BACKBONE_FILES)}")
    path = find_weight_file(BACKBONE_FILES[net][0], backbone)
    if path is None:
        raise MetricUnavailable(lpips_unavailable_message(net))
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
