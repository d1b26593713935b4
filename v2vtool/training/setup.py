"""Run-directory setup for training: output guards, RUN/config.json, RUN/run.json."""
from __future__ import annotations

import json
import platform
import time
import uuid
from pathlib import Path

import torch

from v2vtool import __version__
from v2vtool.config import Config
from v2vtool.errors import UserError
from v2vtool.training.runlog import write_json


def prepare_run(out: Path, cfg: Config, resume: bool, info) -> None:
    """Check the run dir is usable and write RUN/config.json (rank 0) before the first step.

    Every rank runs the checks (same filesystem, same verdict, so no rank is left waiting for
    one that failed) before rank 0 writes anything.
    """
    if not resume and out.exists() and not _restartable(out):
        raise UserError(f"{out}: output directory is not empty (pass --resume to continue it, "
                        "or choose a new --out)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"0" * 4096)
        probe.unlink()
    except OSError as exc:
        raise UserError(f"{out}: output directory is not writable ({exc.strerror or exc})") \
            from None
    if info.enabled:
        import torch.distributed as dist

        dist.barrier()
    error = None
    if info.is_main:
        if not resume:
            (out / "metrics.jsonl").unlink(missing_ok=True)  # a run that never checkpointed
        try:
            write_json(out / "config.json", cfg.to_dict())
        except OSError as exc:
            error = UserError(f"{out / 'config.json'}: could not write ({exc.strerror or exc})")
    from v2vtool.training.distributed import any_rank

    if any_rank(error is not None, info):  # the other ranks must not wait for rank 0
        raise error or UserError(f"{out}: rank 0 could not write config.json; stopping")


RUN_FILES = {"config.json", "run.json", "metrics.jsonl", "samples", "checkpoints"}


def _restartable(out: Path) -> bool:
    """Empty, or only what a run that never reached its first checkpoint leaves behind."""
    entries = [p for p in out.iterdir() if not p.name.startswith(".write-test-")]
    if not entries:
        return True
    if any(p.name not in RUN_FILES for p in entries):
        return False
    ckpts = out / "checkpoints"
    return not (ckpts.is_dir() and any(ckpts.iterdir()))


def run_metadata(trainer, n_train_clips: int) -> dict:
    """RUN/run.json: what a reader needs to interpret the run beyond the config."""
    cfg = trainer.cfg
    return {
        "format": "v2v-run/1",
        "v2vtool_version": __version__,
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "started": time.time(),
        "start_step": trainer.step,
        "total_steps": trainer.total,
        "data": [str(d) for d in trainer.data_dirs],
        "train_clips": n_train_clips,
        "val_clips": len(trainer.val_entries),
        "device": str(trainer.dev),
        "world_size": trainer.info.world_size,
        "amp": cfg.train.amp,
        "seed": cfg.seed,
        "perceptual": trainer.gan.perceptual_status,
        "flow": "OpenCV DIS (preset medium) on the fly at the training resolution",
        "validation": ("held-out identities (manifest split 'test')" if trainer.val_entries
                       else "disabled: no held-out clips (no manifest.json with a test split)"),
    }


def write_run_meta(out: Path, meta: dict, resumed: bool) -> None:
    path = out / "run.json"
    if resumed and path.is_file():
        old = json.loads(path.read_text())
        resumes = old.get("resumes", []) + [{"step": meta["start_step"], "time": time.time()}]
        meta = {**meta, "resumes": resumes, "first_started": old.get("first_started",
                                                                      old.get("started"))}
    write_json(path, meta)
