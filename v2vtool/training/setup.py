"""Run-directory setup for training: the run dir (lock, output guards, cleanup),
RUN/config.json, RUN/run.json."""
from __future__ import annotations

import json
import logging
import os
import platform
import re
import time
import uuid
from pathlib import Path

import torch

from v2vtool import __version__
from v2vtool.config import Config
from v2vtool.errors import UserError, os_error_message
from v2vtool.io.atomic import make_parents, remove_created, remove_path
from v2vtool.io.lock import LOCK_NAME, DirLock
from v2vtool.training.runlog import write_json

log = logging.getLogger(__name__)


class RunDir:
    """The run directory of one `train` invocation: created, locked (one writer), checked,
    and — when the run fails before its first checkpoint — cleaned of what it created.

    `open()` (every rank checks, rank 0 creates and locks; all ranks share the verdict),
    `checkpointed()` once a checkpoint is in place, `abandon()` on failure, `close()` always.
    """

    def __init__(self, out: Path, resume: bool, info, device: torch.device):
        self.out, self.resume, self.info, self.device = out, resume, info, device
        self.lock = DirLock(out)
        self.created: list[Path] = []  # folders this run made (outermost first)
        self.before: set[str] | None = None  # entries of RUN before this run
        self.saved = False

    def open(self) -> None:
        from v2vtool.training import distributed as ddp

        error = None
        if self.info.is_main:
            try:
                self._open_main()
            except UserError as exc:
                error = exc
        if ddp.any_rank(error is not None, self.info, self.device):
            raise error or UserError(f"{self.out}: run directory check failed on rank 0")

    def _open_main(self) -> None:
        out = self.out
        if os.path.lexists(out) and not out.is_dir():
            raise UserError(f"{out}: exists and is not a directory (--out is a run directory)")
        if self.resume and not out.is_dir():
            raise UserError(f"{out}: checkpoint not found (no run directory to resume)")
        if not out.exists():
            self.created = make_parents(out / "x")
        self.lock.acquire()
        remove_stale_temporaries(out)
        self.before = {p.name for p in out.iterdir()}
        if not self.resume and not _restartable(out):
            raise UserError(f"{out}: output directory is not empty (pass --resume to continue "
                            "it, or choose a new --out)")
        try:
            probe = out / f".write-test-{uuid.uuid4().hex[:8]}"
            probe.write_bytes(b"0" * 4096)
            probe.unlink()
        except OSError as exc:
            raise UserError(f"{out}: output directory is not writable "
                            f"({os_error_message(exc).split(': ', 1)[-1]})") from None

    def checkpointed(self) -> None:
        self.saved = True

    def abandon(self) -> None:
        """The run failed: before its first checkpoint, remove what it wrote (a fresh run
        leaves nothing; a resumed run keeps its directory)."""
        if not self.info.is_main or self.saved or self.resume or self.before is None:
            return
        for p in list(self.out.iterdir()) if self.out.is_dir() else []:
            if p.name not in self.before and p.name != LOCK_NAME:
                remove_path(p)

    def close(self) -> None:
        self.lock.release()
        if self.created and not self.saved and self.out.is_dir() and not any(
                self.out.iterdir()):
            remove_created(self.created)


def loader_workers(want: int) -> int:
    """data.workers, capped so that every local process's loaders fit the CPUs (one CPU per
    process left for the training loop itself)."""
    if want <= 0:
        return 0
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    fit = max(1, cpus // max(local, 1) - 1)
    if fit < want:
        log.info("data.workers=%d capped at %d (%d CPUs for %d local processes)", want, fit,
                 cpus, local)
    return min(want, fit)


def prepare_run(out: Path, cfg: Config, resume: bool, info) -> None:
    """Write RUN/config.json (rank 0) before the first step (after `RunDir.open`)."""
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
            error = UserError(os_error_message(exc, out / "config.json"))
    from v2vtool.training.distributed import any_rank

    if any_rank(error is not None, info):  # the other ranks must not wait for rank 0
        raise error or UserError(f"{out}: rank 0 could not write config.json; stopping")


RUN_FILES = {"config.json", "run.json", "metrics.jsonl", "samples", "checkpoints"}
_TEMPORARY = re.compile(r"^\..+\.(tmp|old)-[0-9a-f]{8}(\.[^.]*)?$|^\.write-test-[0-9a-f]{8}$")


def remove_stale_temporaries(out: Path) -> list[Path]:
    """Temporaries of writes that a killed run never finished (`.step-*.tmp-*` checkpoint
    dirs, `.latest.tmp-*`, `.config.json.tmp-*`, ...). Only called with the run's lock held,
    so no live writer owns them."""
    removed = []
    for folder in (out, out / "checkpoints", out / "samples"):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if _TEMPORARY.match(p.name):
                remove_path(p)
                removed.append(p)
    if removed:
        log.info("removed %d stale temporaries of an interrupted run in %s", len(removed), out)
    return removed


def _restartable(out: Path) -> bool:
    """Empty, or only what a run that never reached its first checkpoint leaves behind (and
    recognisably a v2v run: run.json or config.json written by train)."""
    entries = [p for p in out.iterdir() if p.name != LOCK_NAME and not _TEMPORARY.match(p.name)]
    if not entries:
        return True
    if any(p.name not in RUN_FILES for p in entries):
        return False
    ckpts = out / "checkpoints"
    if ckpts.is_dir() and any(p for p in ckpts.iterdir() if not _TEMPORARY.match(p.name)):
        return False
    return _is_run_file(out / "run.json", "run") or _is_run_file(out / "config.json", "config")


def _is_run_file(path: Path, what: str) -> bool:
    try:
        obj = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(obj, dict):
        return False
    if what == "run":
        return str(obj.get("format", "")).startswith("v2v-run/")
    return {"generator", "train", "data"} <= set(obj)


def init_from_checkpoint(generator: torch.nn.Module, path, cfg) -> dict:
    """`train --init`: load a generator checkpoint's weights (its EMA weights when it has
    them) into the new run's generator. The architecture must match (any frame size: the
    networks are convolutional); returns what run.json records."""
    from v2vtool.models.checkpoint import load_generator

    loaded = load_generator(path, "cpu")
    theirs, ours = loaded.config.generator, cfg.generator
    size_free = lambda g: {**g.__dict__, "height": 0, "width": 0}  # noqa: E731
    if size_free(theirs) != size_free(ours):
        diff = sorted(k for k in size_free(ours) if size_free(ours)[k] != size_free(theirs)[k])
        raise UserError(f"{loaded.path}: --init: its generator differs from this run's in "
                        f"{', '.join(f'generator.{k}' for k in diff)} (only the frame size may "
                        "differ)")
    generator.load_state_dict(loaded.generator.state_dict(), strict=True)
    return {"path": str(loaded.path), "sha256": loaded.sha256, "ema": loaded.ema,
            "size": list(theirs.size)}


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
        "amp": trainer.amp,  # resolved ("auto" -> bf16 / none on this machine)
        "amp_requested": cfg.train.amp,
        "compile": cfg.train.compile,
        "seed": cfg.seed,
        "init": getattr(trainer, "init", None),  # train --init: the weights it started from
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
