"""VGG19 features for the perceptual loss, from torchvision's published weights (never random).

The file (`vgg19-dcbb9e9d.pth`, or a ``.safetensors`` of the same state dict; the ``features.*``
tensors are used) comes from `v2vtool.io.pretrained.resolve("vgg19", path)`: an explicit
``path``, else the torch hub cache (``$TORCH_HOME/hub/checkpoints``) or a weights/ folder, else a
checked download into the hub cache unless offline ($V2V_OFFLINE=1, ``v2v --offline``, no
network). ``.pth`` files are pickle files, read with ``torch.load(weights_only=True)``: torch's
restricted unpickler, which admits tensors and plain containers only (still a pickle parser).
When there is no file, ``load_vgg19`` logs ONE loud warning and returns ``(None, status)`` with
``status = {"enabled": False, "path": None, "reason": ...}`` (the reason names the exact path to
put the file at); the training run records the status and the objective leaves the term out.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
import torch.nn as nn

from v2vtool.errors import UserError
from v2vtool.io import pretrained

log = logging.getLogger(__name__)

FILENAME = pretrained.REGISTRY["vgg19"].file_name
# indices of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 in torchvision's vgg19().features
LAYERS = (1, 6, 11, 20, 29)
LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)  # reference perceptual-loss weights


def build_vgg19_features() -> nn.Sequential:
    """torchvision's VGG19 ``features`` up to relu5_1, randomly initialised (weights are always
    loaded over it; the classifier is never built)."""
    from torchvision.models.vgg import cfgs, make_layers

    return make_layers(cfgs["E"], batch_norm=False)[:LAYERS[-1] + 1]


class VGG19Features(nn.Module):
    """Frozen VGG19 up to relu5_1. forward (N, 3, H, W) in [-1, 1] -> 5 feature maps."""

    def __init__(self, state: dict[str, torch.Tensor]):
        super().__init__()
        features = build_vgg19_features()
        wanted = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
        if not wanted:  # a bare features state dict
            wanted = dict(state)
        own = features.state_dict()
        missing = [k for k in own if k not in wanted]
        if missing:
            raise UserError(f"VGG19 weights lack {len(missing)} feature tensors (e.g. {missing[0]})")
        for k, v in own.items():
            if wanted[k].shape != v.shape:
                raise UserError(f"VGG19 weights: {k} has shape {tuple(wanted[k].shape)}, "
                                f"expected {tuple(v.shape)}")
        features.load_state_dict({k: wanted[k] for k in own})
        self.features = features.eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True):  # always frozen / eval
        return super().train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = ((x + 1) / 2 - self.mean) / self.std
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in LAYERS:
                out.append(x)
        return out


def default_vgg19_path() -> Path:
    """Where the file is fetched to (and where messages say to put it)."""
    return pretrained.hub_path(pretrained.get("vgg19"))


def find_vgg19_weights(path: str | os.PathLike | None = None) -> Path | None:
    """The weights file on disk, or None (never downloads; an explicit path that does not exist
    is a user error)."""
    if path is not None:
        return pretrained.resolve("vgg19", path)
    return pretrained.find("vgg19")


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error
        raise UserError(f"{path}: unreadable VGG19 weights ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict):
        raise UserError(f"{path}: VGG19 weights are not a state dict")
    return state


def vgg19_status(path: str | os.PathLike | None = None) -> dict:
    """Whether the perceptual loss can run from what is on disk, without loading or downloading
    anything: {"enabled", "path", "reason"}."""
    found = find_vgg19_weights(path)
    if found is None:
        return {"enabled": False, "path": None,
                "reason": pretrained.unavailable_message(pretrained.get("vgg19"),
                                                         "not downloaded yet")}
    return {"enabled": True, "path": str(found), "reason": "local weights"}


def load_vgg19(path: str | os.PathLike | None = None,
               fetch: bool = True) -> tuple[VGG19Features | None, dict]:
    """Load VGG19 features -> (module or None, status dict); the file is fetched into the hub
    cache when missing (unless `fetch` is False or offline).

    No file disables the perceptual term with one loud warning (never random weights); an
    explicit `path` that does not exist is a UserError."""
    try:
        found = pretrained.resolve("vgg19", path, fetch=fetch)
    except pretrained.WeightsUnavailable as exc:
        if path is not None:
            raise
        log.warning("PERCEPTUAL LOSS DISABLED: %s. This run goes on without the VGG19 "
                    "perceptual term.", exc)
        return None, {"enabled": False, "path": None, "reason": str(exc)}
    module = VGG19Features(_read_state(found))
    log.info("VGG19 perceptual features loaded from %s", found)
    return module, {"enabled": True, "path": str(found), "reason": "local weights"}


def vgg_input_size_ok(x: torch.Tensor) -> bool:
    """VGG19 up to relu5_1 needs >= 16 px per side (4 poolings)."""
    return min(x.shape[-2:]) >= 16


__all__ = ["VGG19Features", "build_vgg19_features", "load_vgg19", "vgg19_status",
           "find_vgg19_weights", "default_vgg19_path", "vgg_input_size_ok", "LAYERS",
           "LAYER_WEIGHTS"]
