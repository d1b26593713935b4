"""Checkpoints: safetensors tensors + a JSON config that rebuilds the model (no pickle in them).

    CKPT/                     e.g. RUN/checkpoints/step-0001000/ or weights/<name>/
      config.json             resolved `Config` (rebuilds every network)
      generator.safetensors   generator state dict
      generator_ema.safetensors  (optional) EMA generator, preferred for synthesis
      ...                     training adds discriminators / trainer state beside these

`resolve_checkpoint` accepts a checkpoint dir, a run dir (uses checkpoints/latest) or a
`checkpoints/` dir.

Training checkpoints (`save_training_checkpoint`) add, in RUN/checkpoints/step-XXXXXXX/:
      discriminators.safetensors  every discriminator, keys prefixed by its name ("image.", ...)
      trainer_state.json          step, schedule, metadata and the JSON skeleton of the state
      trainer_state.safetensors   optimiser moments, RNG states (tensors of the state)
The directory is written under a temporary name and renamed; `latest` is a relative symlink
(or, where symlinks are unavailable, a text file naming the step dir) updated atomically, and
only the last `keep` step dirs are kept.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from v2vtool.config import Config
from v2vtool.errors import UserError, os_error_message
from v2vtool.io.weights import load_state_into, read_state, write_state


@dataclass
class LoadedGenerator:
    generator: torch.nn.Module  # FewShotGenerator, in eval mode
    config: Config
    path: Path
    sha256: str  # hash of the generator weights file that was loaded
    ema: bool


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: checkpoint not found")
    for candidate in (path, path / "latest", path / "checkpoints" / "latest"):
        candidate = _follow_pointer(candidate)
        if (candidate / "config.json").is_file() and (candidate / "generator.safetensors").is_file():
            return candidate.resolve()
    raise UserError(f"{path}: not a checkpoint (needs config.json and generator.safetensors)")


def _follow_pointer(path: Path) -> Path:
    """`latest` may be a symlink (followed by the OS) or a small text file naming a sibling."""
    if path.is_file() and path.name == "latest" and path.stat().st_size < 256:
        name = path.read_text().strip()
        if name and "/" not in name and "\\" not in name:
            return path.parent / name
    return path


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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
    from v2vtool.models.generator import FewShotGenerator

    ckpt = resolve_checkpoint(path)
    config = load_config(ckpt)
    try:
        generator = FewShotGenerator(config.generator)
    except (RuntimeError, MemoryError) as exc:  # e.g. an edited config.json asking for GBs
        raise UserError(f"{ckpt / 'config.json'}: cannot build this model here "
                        f"({' '.join(str(exc).split())[:160]})") from None
    weights = ckpt / "generator_ema.safetensors"
    use_ema = prefer_ema and weights.is_file()
    if not use_ema:
        weights = ckpt / "generator.safetensors"
    safetensors_to_state(generator, weights)
    generator.to(device).eval()
    return LoadedGenerator(generator, config, ckpt, file_sha256(weights), use_ema)


# ---- training checkpoints (train engineer) -------------------------------------------------

CHECKPOINT_PREFIX = "step-"


def step_dir_name(step: int) -> str:
    return f"{CHECKPOINT_PREFIX}{step:07d}"


def _modules_to_safetensors(modules: dict[str, torch.nn.Module], path: Path) -> None:
    state = {}
    for name, module in modules.items():
        for k, v in module.state_dict().items():
            state[f"{name}.{k}"] = v.detach().cpu().contiguous().clone()
    write_state(state, path)


def _safetensors_to_modules(modules: dict[str, torch.nn.Module], path: Path) -> None:
    state = read_state(path)
    for name, module in modules.items():
        sub = {k[len(name) + 1:]: v for k, v in state.items() if k.startswith(name + ".")}
        load_state_into(module, sub, path, f"{name} discriminator weights")


def save_training_checkpoint(checkpoints_dir: str | os.PathLike, step: int, config: Config,
                             generator: torch.nn.Module, ema: torch.nn.Module | None,
                             discriminators: dict[str, torch.nn.Module], trainer_state: dict,
                             trainer_tensors: dict[str, torch.Tensor], keep: int) -> Path:
    """Atomically write RUN/checkpoints/step-XXXXXXX/, point `latest` at it, prune old ones.

    On a write error (disk full, permissions) the partial temp dir is removed, `latest` still
    points at the previous complete checkpoint, and a UserError names the directory.
    """
    from v2vtool.io.atomic import atomic_dir

    root = Path(checkpoints_dir)
    final = root / step_dir_name(step)
    try:
        root.mkdir(parents=True, exist_ok=True)
        with atomic_dir(final, overwrite=True) as tmp:
            save_generator(tmp, config, generator, ema)
            _modules_to_safetensors(discriminators, tmp / "discriminators.safetensors")
            write_state(trainer_tensors, tmp / "trainer_state.safetensors")
            (tmp / "trainer_state.json").write_text(json.dumps(trainer_state, indent=1))
        _point_latest(root, final.name)
    except (OSError, UserError) as exc:
        why = os_error_message(exc).split(": ", 1)[-1] if isinstance(exc, OSError) else exc
        raise UserError(f"{final}: could not write checkpoint ({why}); the previous "
                        "checkpoint is intact") from None
    prune_checkpoints(root, keep)
    return final


def _point_latest(root: Path, name: str) -> None:
    import uuid

    tmp = root / f".latest.tmp-{uuid.uuid4().hex[:8]}"
    try:
        os.symlink(name, tmp, target_is_directory=True)
    except (OSError, NotImplementedError):
        tmp.write_text(name + "\n")
    os.replace(tmp, root / "latest")


def list_checkpoints(checkpoints_dir: str | os.PathLike) -> list[Path]:
    root = Path(checkpoints_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir()
                  if p.is_dir() and not p.is_symlink() and p.name.startswith(CHECKPOINT_PREFIX)
                  and (p / "trainer_state.json").is_file())


def prune_checkpoints(checkpoints_dir: str | os.PathLike, keep: int) -> None:
    import shutil

    ckpts = list_checkpoints(checkpoints_dir)
    latest = _follow_pointer(Path(checkpoints_dir) / "latest").resolve()
    for p in ckpts[:max(0, len(ckpts) - max(1, keep))]:
        if p.resolve() != latest:
            shutil.rmtree(p, ignore_errors=True)


@dataclass
class TrainingCheckpoint:
    path: Path
    config: Config
    state: dict  # trainer_state.json
    tensors: dict[str, torch.Tensor]  # trainer_state.safetensors


def load_training_checkpoint(path: str | os.PathLike) -> TrainingCheckpoint:
    """Read a training checkpoint's config and trainer state (no pickle anywhere)."""
    ckpt = resolve_checkpoint(path)
    state_file = ckpt / "trainer_state.json"
    if not state_file.is_file():
        raise UserError(f"{ckpt}: not a training checkpoint (no trainer_state.json)")
    try:
        state = json.loads(state_file.read_text())
    except (ValueError, OSError) as exc:
        raise UserError(f"{state_file}: unreadable trainer state ({exc})") from None
    if not isinstance(state, dict) or type(state.get("step")) is not int or state["step"] < 0:
        raise UserError(f"{state_file}: not a v2v trainer state (no integer 'step')")
    tensors = read_state(ckpt / "trainer_state.safetensors")
    return TrainingCheckpoint(ckpt, load_config(ckpt), state, tensors)


def load_training_weights(ckpt: Path, generator: torch.nn.Module, ema: torch.nn.Module | None,
                          discriminators: dict[str, torch.nn.Module]) -> None:
    safetensors_to_state(generator, ckpt / "generator.safetensors")
    if ema is not None:
        src = ckpt / "generator_ema.safetensors"
        safetensors_to_state(ema, src if src.is_file() else ckpt / "generator.safetensors")
    if discriminators:
        _safetensors_to_modules(discriminators, ckpt / "discriminators.safetensors")
