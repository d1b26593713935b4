"""Frechet Inception Distance (Heusel et al. 2017) with pytorch-fid's InceptionV3 (pool3, 2048-d).

The network is built from pytorch-fid's FID-specific blocks (pytorch-fid's own constructor
downloads without a check, so it is never called) and its weights come from
`v2vtool.io.pretrained.resolve("inception")`: `--fid-weights PATH`, else the torch hub cache
`$TORCH_HOME/hub/checkpoints/pt_inception-2015-12-05-6726825d.pth` or a weights/ folder, else a
download checked against the published SHA-256 (unless offline). When there is none,
`MetricUnavailable` says where to put it; FID is never computed with random weights outside the
tests (which build their own weights file, see `build_fid_inception`).

    FID = |mu_1 - mu_2|^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2})
"""
from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg
from torch import nn

from v2vtool.io import pretrained
from v2vtool.io.hashing import sha256_file
from v2vtool.metrics.common import MetricUnavailable, to_tensor01

log = logging.getLogger(__name__)

FID_WEIGHTS_FILE = pretrained.REGISTRY["inception"].file_name


def build_fid_inception() -> nn.Module:
    """pytorch-fid's FID InceptionV3 structure (torchvision inception_v3 with the FID blocks),
    randomly initialised, no download. Its state_dict has the layout of the official file."""
    import torchvision
    from pytorch_fid import inception as pfi

    net = torchvision.models.inception_v3(weights=None, aux_logits=False, num_classes=1008,
                                          init_weights=False)
    net.Mixed_5b = pfi.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pfi.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pfi.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pfi.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pfi.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pfi.FIDInceptionE_1(1280)
    net.Mixed_7c = pfi.FIDInceptionE_2(2048)
    return net


class FIDFeatures(nn.Module):
    """(N, 3, H, W) in [0, 1] -> (N, 2048) pool3 features (the standard FID embedding)."""

    def __init__(self, inception: nn.Module):
        super().__init__()
        n = inception
        self.body = nn.Sequential(
            n.Conv2d_1a_3x3, n.Conv2d_2a_3x3, n.Conv2d_2b_3x3, nn.MaxPool2d(3, 2),
            n.Conv2d_3b_1x1, n.Conv2d_4a_3x3, nn.MaxPool2d(3, 2),
            n.Mixed_5b, n.Mixed_5c, n.Mixed_5d, n.Mixed_6a, n.Mixed_6b, n.Mixed_6c, n.Mixed_6d,
            n.Mixed_6e, n.Mixed_7a, n.Mixed_7b, n.Mixed_7c, nn.AdaptiveAvgPool2d(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        return self.body(2 * x - 1).flatten(1)


@dataclass(frozen=True)
class FIDModel:
    features: FIDFeatures
    weights_path: Path
    official: bool  # sha256 is the published file's


def resolve_fid_weights(explicit: str | os.PathLike | None = None, fetch: bool = True) -> Path:
    """The weights file (fetched when missing, unless `fetch` is False or offline), or
    MetricUnavailable naming the exact path to put it at."""
    try:
        return pretrained.resolve("inception", explicit, fetch=fetch)
    except pretrained.WeightsUnavailable as exc:
        raise MetricUnavailable(f"FID unavailable: {exc}") from None


def load_fid_model(weights: str | os.PathLike | None = None, device: str = "cpu",
                   fetch: bool = True) -> FIDModel:
    """Build the FID network and load its weights (a pickle file, parsed by torch's restricted
    unpickler: `weights_only=True` rebuilds tensors and containers, nothing else)."""
    path = resolve_fid_weights(weights, fetch)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user-facing fact
        raise MetricUnavailable(f"FID unavailable: {path}: not a readable PyTorch state dict "
                                f"({type(exc).__name__}: {exc})") from None
    net = build_fid_inception()
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise MetricUnavailable(f"FID unavailable: {path}: does not match pytorch-fid's "
                                f"InceptionV3 layout ({str(exc).splitlines()[0]})") from None
    official = sha256_file(path) == pretrained.get("inception").sha256
    if not official:
        log.warning("%s is not the official FID Inception file (its SHA-256 differs): FID "
                    "values are not comparable to published ones", path)
    feats = FIDFeatures(net).eval().to(device)
    for p in feats.parameters():
        p.requires_grad_(False)
    return FIDModel(feats, path, official)


@torch.no_grad()
def inception_activations(model: FIDModel, frames: Iterable[np.ndarray], batch_size: int = 16,
                          device: str = "cpu") -> np.ndarray:
    """Stream (H, W, 3) uint8 frames through the network -> (N, 2048) float64."""
    out, batch = [], []

    def flush():
        if batch:
            out.append(model.features(to_tensor01(batch).to(device)).double().cpu().numpy())
            batch.clear()

    for f in frames:
        batch.append(f)
        if len(batch) == batch_size:
            flush()
    flush()
    if not out:
        raise ValueError("FID: no frames")
    return np.concatenate(out)


def activation_statistics(acts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) -> (mu (D,), sigma (D, D)); needs N >= 2."""
    if acts.shape[0] < 2:
        raise ValueError("FID needs at least 2 frames per set")
    return acts.mean(axis=0), np.cov(acts, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2) (the FID formula above)."""
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    diff = mu1 - mu2
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps  # singular product (few samples): regularise
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(max(0.0, diff @ diff + np.trace(sigma1) + np.trace(sigma2)
                     - 2 * np.trace(covmean)))


def fid_from_activations(acts1: np.ndarray, acts2: np.ndarray) -> float:
    """FID between two activation sets (N1, D), (N2, D).

    With few samples (N < D) the covariances are low rank and Tr (S_1 S_2)^{1/2} is computed
    exactly from the centred activations A_i: it equals the sum of the singular values of
    A_1 A_2^T / sqrt((N_1 - 1)(N_2 - 1)) (same non-zero spectrum), which avoids a D x D sqrtm."""
    n1, n2, d = acts1.shape[0], acts2.shape[0], acts1.shape[1]
    if n1 < 2 or n2 < 2:
        raise ValueError("FID needs at least 2 frames per set")
    if max(n1, n2) > d:
        return frechet_distance(*activation_statistics(acts1), *activation_statistics(acts2))
    a1, a2 = acts1 - acts1.mean(0), acts2 - acts2.mean(0)
    diff = acts1.mean(0) - acts2.mean(0)
    tr1 = (a1 ** 2).sum() / (n1 - 1)
    tr2 = (a2 ** 2).sum() / (n2 - 1)
    sv = np.linalg.svd(a1 @ a2.T, compute_uv=False) / np.sqrt((n1 - 1) * (n2 - 1))
    return float(max(0.0, diff @ diff + tr1 + tr2 - 2 * sv.sum()))


def fid_from_frames(model: FIDModel, generated: Iterable[np.ndarray],
                    real: Iterable[np.ndarray], batch_size: int = 16,
                    device: str = "cpu") -> float:
    """FID between two frame sets (each an iterable of (H, W, 3) uint8)."""
    return fid_from_activations(inception_activations(model, generated, batch_size, device),
                                inception_activations(model, real, batch_size, device))
