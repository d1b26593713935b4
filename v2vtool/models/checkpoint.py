"""Generator checkpoints: safetensors tensors + a JSON config that rebuilds the model (no pickle
in them).

    CKPT/                     e.g. RUN/checkpoints/step-0001000/ or weights/<name>/
      config.json             resolved `Config` (rebuilds every network)
      generator.safetensors   generator state dict
      generator_ema.safetensors  (optional) EMA generator, preferred for synthesis
      ...                     training adds discriminators / trainer state beside these
                              (training/checkpoint.py)

`resolve_checkpoint` accepts a checkpoint dir, a run dir (uses checkpoints/latest) or a
`checkpoints/` dir. Synthesis, evaluation, the benchmark and the demo load generators from here
without importing the trainer.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from v2vtool.config import Config
from v2vtool.errors import UserError
from v2vtool.io.hashing import sha256_file
from v2vtool.io.weights import load_state_into, read_state, write_state
from v2vtool.models.build import build_generator


@dataclass
class LoadedGenerator:
    generator: torch.nn.Module  # a models.contract.Generator, in eval mode
    config: Config
    path: Path
    sha256: str  # hash of the generator weights file that was loaded
    ema: bool


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: checkpoint not found")
    for candidate in (path, path / "latest", path / "checkpoints" / "latest"):
        candidate = follow_pointer(candidate)
        if (candidate / "config.json").is_file() and (candidate / "generator.safetensors").is_file():
            return candidate.resolve()
    raise UserError(f"{path}: not a checkpoint (needs config.json and generator.safetensors)")


def follow_pointer(path: Path) -> Path:
    """`latest` may be a symlink (followed by the OS) or a small text file naming a sibling."""
    if path.is_file() and path.name == "latest" and path.stat().st_size < 256:
        name = path.read_text().strip()
        if name and "/" not in name and "\\" not in name:
            return path.parent / name
    return path


def state_to_safetensors(module: torch.nn.Module, path: str | os.PathLike) -> None:
    # clone: safetensors refuses tensors that share storage (e.g. tied / spectral-norm views)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}
    write_state(state, path)


def safetensors_to_state(module: torch.nn.Module, path: str | os.PathLike) -> None:
    """Load weights (finite, same names and shapes as `module`) or one-line UserError."""
    load_state_into(module, read_state(path), path)


def save_generator(ckpt_dir: str | os.PathLike, config: Config, generator: torch.nn.Module,
                   ema: torch.nn.Module | None = None) -> Path:
    """Write config.json + generator(.ema).safetensors into `ckpt_dir` (caller makes it atomic)."""
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    (ckpt_dir / "config.json").write_text(config.to_json())
    state_to_safetensors(generator, ckpt_dir / "generator.safetensors")
    if ema is not None:
        state_to_safetensors(ema, ckpt_dir / "generator_ema.safetensors")
    return ckpt_dir


def load_config(ckpt_dir: str | os.PathLike) -> Config:
    """config.json, parsed and validated (types, ranges) like a preset with --set."""
    from v2vtool.config_check import validate_config

    path = Path(ckpt_dir) / "config.json"
    try:
        cfg = Config.from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError, RecursionError) as exc:
        raise UserError(f"{path}: not a valid config ({' '.join(str(exc).split())[:200]})") \
            from None
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
    return validate_config(cfg, source=str(path))


def load_generator(path: str | os.PathLike, device: str | torch.device = "cpu",
                   prefer_ema: bool = True) -> LoadedGenerator:
    """Rebuild the generator from config.json and load its weights (EMA when present)."""
    ckpt = resolve_checkpoint(path)
    config = load_config(ckpt)
    try:
        generator = build_generator(config.generator)
    except (RuntimeError, MemoryError) as exc:  # e.g. an edited config.json asking for GBs
        raise UserError(f"{ckpt / 'config.json'}: cannot build this model here "
                        f"({' '.join(str(exc).split())[:160]})") from None
    weights = ckpt / "generator_ema.safetensors"
    use_ema = prefer_ema and weights.is_file()
    if not use_ema:
        weights = ckpt / "generator.safetensors"
    safetensors_to_state(generator, weights)
    generator.to(device).eval()
    return LoadedGenerator(generator, config, ckpt, sha256_file(weights), use_ema)
