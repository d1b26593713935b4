"""Training checkpoints: the generator checkpoint (models/checkpoint.py) + what resuming needs.

In RUN/checkpoints/step-XXXXXXX/, beside config.json and generator(_ema).safetensors:
      discriminators.safetensors  every discriminator, keys prefixed by its name ("image.", ...)
      trainer_state.json          step, schedule, metadata and the JSON skeleton of the state
      trainer_state.safetensors   optimiser moments, RNG states (tensors of the state)
The directory is written under a temporary name and renamed; `latest` is a relative symlink
(or, where symlinks are unavailable, a text file naming the step dir) updated atomically, and
only the last `keep` step dirs are kept. No pickle, ever.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from v2vtool.config import Config
from v2vtool.errors import UserError, os_error_message
from v2vtool.io.weights import load_state_into, read_state, write_state
from v2vtool.models.checkpoint import (follow_pointer, load_config, resolve_checkpoint,
                                       safetensors_to_state, save_generator)

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
    latest = follow_pointer(Path(checkpoints_dir) / "latest").resolve()
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
