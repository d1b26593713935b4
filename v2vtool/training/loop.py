"""The training loop: `train(data_dirs, out, config, ...)` -> path of the final checkpoint.

Per step s (keys of step s from `FewShotBatchSampler`: K fixed per batch, T = schedule):
  1. G forward over the T target frames (autoregressive, previous output detached; T = 1 in the
     single-frame phase, so no temporal networks), all discriminators on real vs fake,
  2. discriminator update (Adam, lr_d), then generator update (Adam, lr_g) against the updated
     discriminators, EMA update; learning rates follow `schedule.lr_factor` (linear decay),
  3. a non-finite loss on any rank skips the whole step on every rank (logged); after
     `max_bad_steps` consecutive skips training stops with a clear error. The skip happens on
     the device (fused Adam's ``found_inf``; the flag rides in the gradient all-reduce) and
     the host learns about it when it next flushes `PendingSteps` (log / sample / checkpoint
     steps): no per-step host sync.
Every `log_every` steps a record goes to RUN/metrics.jsonl; sample grids, validation and
checkpoints every `sample_every` / `val_every` / `checkpoint_every` steps and at the end.
SIGINT / SIGTERM finish the current step, save a checkpoint and raise `TrainingInterrupted`.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import torch
from rich.console import Console

from v2vtool.config import Config
from v2vtool.config_check import BIG, check_number, parse_mix, validate_config
from v2vtool.data.dataset import (FewShotBatchSampler, FewShotDataset, check_clips, find_clips,
                                  generator_inputs, mix_groups, validation_keys)
from v2vtool.errors import UserError
from v2vtool.io.clipdir import check_clip_files
from v2vtool.io.guard import check_outputs
from v2vtool.models.build import build_generator
from v2vtool.models.fastpath import compile_step, resolve_amp, swap_step, tune_host_allocator
from v2vtool.training import checkpoint as ckpt_io
from v2vtool.training import distributed as ddp
from v2vtool.training import schedule
from v2vtool.training.ema import EMA
from v2vtool.training.pending import (PendingSteps, StepOutcome, TrainingDiverged, nonfinite,
                                      settle)
from v2vtool.training.gan import GanPieces
from v2vtool.training.plots import plot_validation
from v2vtool.training.runlog import MetricsLog
from v2vtool.device import resolve_device
from v2vtool.training.setup import (RunDir, init_from_checkpoint, loader_workers, prepare_run,
                                    run_metadata, write_run_meta)
from v2vtool.training.state import flatten_state, rng_state, seed_everything, set_rng_state, \
    unflatten_state
from v2vtool.training.validate import Validator
from v2vtool.training.visuals import format_losses, make_progress, sample_grid, save_png

log = logging.getLogger(__name__)
VAL_ITEMS = 8
VAL_FRAMES = 4


class TrainingInterrupted(KeyboardInterrupt):
    """Raised after SIGINT / SIGTERM (or `stop_at`): the checkpoint was saved first."""

    def __init__(self, step: int, checkpoint: Path | None, signum: int | None):
        super().__init__(f"interrupted at step {step}")
        self.step, self.checkpoint, self.signum = step, checkpoint, signum


def _worker_init(_worker_id: int) -> None:
    """DataLoader workers: Ctrl-C reaches the whole process group, but only the main process
    should react (it saves a checkpoint); one OpenCV thread per worker."""
    import cv2

    from v2vtool.workers import init_worker

    init_worker()
    cv2.setNumThreads(1)


class _StopFlag:
    def __init__(self):
        self.signum: int | None = None
        self._old = {}

    def __enter__(self):
        if _main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.signum is not None:  # second signal: stop right now
            raise KeyboardInterrupt
        self.signum = signum

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def check_budget(steps: int | None, minutes: float | None) -> None:
    """The run-length arguments of `train` (also checked by the CLI before it launches
    torchrun, so that a bad value fails once, not once per process)."""
    check_number("--steps", steps, 1, BIG, integer=True)
    check_number("--minutes", minutes, 0, 10**7, lo_open=True)  # nan / inf too


def train(data_dirs: Sequence[str | os.PathLike], out: str | os.PathLike, config: Config,
          steps: int | None = None, minutes: float | None = None, resume: bool = False,
          device: str = "auto", *, stop_at: int | None = None, progress: bool = True,
          console: Console | None = None, init: str | os.PathLike | None = None) -> Path:
    """Train a few-shot generator on clip dirs; returns the final checkpoint directory.

    steps: total steps of the schedule (sets ``train.steps``; on resume it may extend it).
    minutes: wall-clock budget of this invocation (stops early with a checkpoint).
    resume: continue RUN/checkpoints/latest exactly (config taken from the checkpoint).
    init: start a new run from a generator checkpoint's weights (e.g. the shipped model, to
    finetune it on your own footage): same architecture, any frame size.
    stop_at: stop after this step as if interrupted (tests / scripted pauses).
    """
    check_budget(steps, minutes)
    dev = resolve_device(device)
    info = ddp.init_distributed(dev)
    if dev.type == "cuda" and info.enabled:
        dev = torch.device("cuda", info.local_rank)
    if dev.type == "cuda" and dev.index is not None:  # also --device cuda:N in one process
        torch.cuda.set_device(dev)
    threads = torch.get_num_threads()
    rundir = RunDir(Path(out), resume, info, dev)
    try:
        return _Trainer(data_dirs, Path(out), config, steps, minutes, resume, dev, info,
                        stop_at, progress, console, rundir, init).run()
    except UserError as exc:
        rundir.abandon()
        raise type(exc)(_worker_message(str(exc))) from None
    except (RuntimeError, MemoryError) as exc:
        rundir.abandon()
        if _out_of_memory(exc):  # a setting too large for this machine: the user's to change
            raise UserError(f"out of memory while training ({' '.join(str(exc).split())[:120]}"
                            "); lower train.batch_size, generator.height/width or "
                            "train.seq_len_max") from None
        raise
    except Exception:
        rundir.abandon()
        raise
    except KeyboardInterrupt as exc:  # Ctrl-C / SIGTERM before the loop saved a checkpoint
        if not isinstance(exc, TrainingInterrupted):
            rundir.abandon()
        raise
    finally:
        rundir.close()
        torch.set_num_threads(threads)
        ddp.shutdown(info)


def _out_of_memory(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or "out of memory" in text or \
        "can't allocate memory" in text


def _worker_message(text: str) -> str:
    """A UserError raised in a DataLoader worker reaches us wrapped in torch's message with
    the worker's traceback; keep the original one line."""
    if "Original Traceback" not in text:
        return text
    lines = [ln for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        head, sep, rest = ln.partition(": ")
        if sep and head.split(".")[-1].endswith("Error"):
            return rest
    return lines[-1]


class _Trainer:
    def __init__(self, data_dirs, out: Path, config: Config, steps, minutes, resume, dev, info,
                 stop_at, progress, console, rundir: RunDir, init=None):
        self.dev, self.info, self.out = dev, info, out
        self.minutes, self.stop_at, self.progress_on = minutes, stop_at, progress and info.is_main
        self.console = console
        self.data_dirs = [Path(d) for d in data_dirs]
        self.rundir = rundir
        if not self.data_dirs:
            raise UserError("no --data given (clip dirs or folders of clip dirs)")
        check_outputs([("--out", out)], [("--data", d) for d in self.data_dirs])
        if resume:  # lock before reading the run's state: another process may be writing it
            rundir.open()
        resumed = ckpt_io.load_training_checkpoint(out) if resume else None
        if resume and resumed is None:
            raise UserError(f"{out}: nothing to resume")
        cfg = resumed.config if resumed is not None else config
        if steps is not None:  # the one place --steps is applied (checked in `train`)
            cfg = replace(cfg, train=replace(cfg.train, steps=int(steps)))
        cfg = validate_config(cfg)  # also a Config built in Python, not by presets / --set
        self.cfg, self.total = cfg, cfg.train.steps
        if cfg.train.threads > 0:  # restored by train() on the way out
            torch.set_num_threads(cfg.train.threads)
        if cfg.train.amp not in ("none", "bf16", "auto"):
            raise UserError(f"train.amp={cfg.train.amp!r} must be none, bf16 or auto")
        # auto: bf16 where native and the frames are big enough (fastpath.resolve_amp)
        self.amp = resolve_amp(cfg.train.amp, dev, cfg.generator.height * cfg.generator.width)
        tune_host_allocator()

        # data (guards first: nothing is written before the inputs check out)
        entries = find_clips(self.data_dirs, "train")
        check_clips(entries, self.data_dirs, cfg.generator.kind, cfg.preset,
                    schedule.max_seq_len(cfg.train, self.total))
        mix = parse_mix(cfg.data.mix)
        self.mix_groups = mix_groups(entries, mix, self.data_dirs) if mix else None
        self.val_entries = find_clips(self.data_dirs, "test")
        for e in entries + self.val_entries:  # every file read later, checked before writing
            check_clip_files(e.path, keypoints=cfg.generator.kind in ("pose", "face"))
        self.dataset = FewShotDataset(entries, cfg.generator, cfg.data, augment=True)
        if not resume:  # created, locked (one writer), checked; cleaned up if we fail early
            rundir.open()

        # models
        seed_everything(cfg.seed)  # identical init on every rank
        self.G = build_generator(cfg.generator).to(dev)
        self.init = None
        if init is not None and resumed is None:
            self.init = init_from_checkpoint(self.G, init, cfg)
        self.compiled = None
        if cfg.train.compile:  # G.forward calls self.step: compile that (one graph per K, and
            self.compiled = compile_step(self.G, inference=False)  # with / without prev frame)
        self.gan = GanPieces(cfg, dev)
        self.Ds = self.gan.discriminators
        self.ema = EMA(self.G, cfg.train.ema) if cfg.train.ema > 0 else None
        betas = (cfg.train.beta1, cfg.train.beta2)
        # fused: one kernel per step, and it can skip a step on the device (found_inf)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.train.lr_g, betas=betas,
                                      fused=True)
        d_params = [p for d in self.Ds.values() for p in d.parameters()]
        self.opt_d = torch.optim.Adam(d_params, lr=cfg.train.lr_d, betas=betas, fused=True) \
            if d_params else None
        self.pending = PendingSteps()
        for m in [self.G, *self.Ds.values()]:
            ddp.broadcast_module(m, info)
        self.step, self.bad_steps = 0, 0
        self.metrics = MetricsLog(out / "metrics.jsonl", enabled=info.is_main)
        if resumed is not None:
            try:
                self._restore(resumed)
            except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
                raise UserError(f"{resumed.path / 'trainer_state.json'}: not a trainer state "
                                f"this run can continue ({type(exc).__name__}: "
                                f"{' '.join(str(exc).split())[:120]})") from None
        else:
            seed_everything(cfg.seed * 1009 + info.rank + 1)  # per-rank stream from here on
        prepare_run(out, cfg, resume, info)  # after every read of a resumed checkpoint
        meta = run_metadata(self, len(entries))
        if info.is_main:
            write_run_meta(out, meta, resumed is not None)
        self.meta = meta
        self.metrics.write({"type": "event", "step": self.step,
                            "event": "resume" if resumed is not None else "start",
                            "perceptual": meta["perceptual"], "world_size": info.world_size,
                            "device": str(dev)})
        self.validator = None
        if info.is_main and self.val_entries:
            keys = validation_keys(self.val_entries, VAL_ITEMS, VAL_FRAMES, cfg.seed)
            val_ds = FewShotDataset(self.val_entries, cfg.generator, cfg.data, augment=False,
                                    with_flow=False)
            self.validator = Validator(val_ds, keys, cfg.train.batch_size, dev)

    # ---- state -----------------------------------------------------------------------------
    def _trainer_state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        tensors: dict[str, torch.Tensor] = {}
        skeleton = flatten_state({
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict() if self.opt_d is not None else None,
            "rng": rng_state(),
        }, "s", tensors)
        state = {"format": "v2v-trainer/1", "step": self.step, "total_steps": self.total,
                 "bad_steps": self.bad_steps,
                 "ema_updates": self.ema.updates if self.ema is not None else 0,
                 "phase": schedule.phase(self.cfg.train, self.step),
                 "seq_len": schedule.seq_len(self.cfg.train, self.step),
                 "sampler": {"seed": self.cfg.seed, "next_step": self.step,
                             "world_size": self.info.world_size},
                 "meta": self.meta if hasattr(self, "meta") else {}, "state": skeleton}
        return state, tensors

    def _restore(self, resumed) -> None:
        ckpt_io.load_training_weights(resumed.path, self.G, self.ema.model if self.ema else None,
                                      self.Ds)
        st = unflatten_state(resumed.state["state"], resumed.tensors)
        self.opt_g.load_state_dict(st["opt_g"])
        if self.opt_d is not None and st["opt_d"] is not None:
            self.opt_d.load_state_dict(st["opt_d"])
        self.step = int(resumed.state["step"])
        self.bad_steps = int(resumed.state.get("bad_steps", 0))
        if self.ema is not None:
            self.ema.updates = int(resumed.state.get("ema_updates", 0))
        if resumed.state["sampler"]["world_size"] != self.info.world_size:
            log.warning("resuming with %d processes (checkpoint had %d): data order differs",
                        self.info.world_size, resumed.state["sampler"]["world_size"])
        set_rng_state(st["rng"])
        self.metrics.truncate_after(self.step)

    def save(self) -> Path | None:
        self.flush()  # a diverged run raises here and writes nothing
        path, error = None, None
        if self.info.is_main:
            state, tensors = self._trainer_state()
            try:
                path = ckpt_io.save_training_checkpoint(
                    self.out / "checkpoints", self.step, self.cfg, self.G,
                    self.ema.model if self.ema else None, self.Ds, state, tensors,
                    self.cfg.train.keep_checkpoints)
                self.rundir.checkpointed()
            except BaseException as exc:  # noqa: BLE001 - re-raised below, after telling the others
                error = exc
        # every rank learns whether rank 0 wrote it (also the barrier): nobody waits for a
        # rank that already failed
        if ddp.any_rank(error is not None, self.info):
            if error is not None:
                raise error
            raise UserError(f"{self.out}: rank 0 could not write the step-{self.step} "
                            "checkpoint (see its error); stopping")
        return path or (self.out / "checkpoints" / ckpt_io.step_dir_name(self.step))

    # ---- one step ----------------------------------------------------------------------------
    def _autocast(self):
        if self.amp == "bf16":
            return torch.autocast(self.dev.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _set_lr(self) -> tuple[float, float]:
        f = schedule.lr_factor(self.cfg.train, self.step, self.total)
        lr_g, lr_d = self.cfg.train.lr_g * f, self.cfg.train.lr_d * f
        for g in self.opt_g.param_groups:
            g["lr"] = lr_g
        if self.opt_d is not None:
            for g in self.opt_d.param_groups:
                g["lr"] = lr_d
        return lr_g, lr_d

    def train_step(self, batch: dict) -> None:
        """One D + G update; results are queued in `self.pending` (nothing read back)."""
        batch = {k: v.to(self.dev, non_blocking=True) for k, v in batch.items()}
        with self._autocast(), swap_step(self.G, self.compiled):
            out = self.G(**generator_inputs(batch))
        # 1. discriminator update on real vs detached fake
        d_losses: dict[str, torch.Tensor] = {}
        d_bad = None
        if self.opt_d is not None:
            self.opt_d.zero_grad(set_to_none=True)
            with self._autocast():
                d_losses = self.gan.d_losses(batch, out)
        if d_losses:
            d_total = sum(d_losses.values())
            d_total.backward()
            d_bad = ddp.average_gradients([p for d in self.Ds.values() for p in d.parameters()],
                                          self.info, nonfinite(d_total))
            d_bad = (d_bad > 0).float()
            self.opt_d.found_inf = d_bad  # skipped on the device when any rank is non-finite
            self.opt_d.step()
        # 2. generator update against the updated discriminators (their weights frozen here)
        self.opt_g.zero_grad(set_to_none=True)
        for d in self.Ds.values():
            d.requires_grad_(False)
        try:
            with self._autocast():
                g_losses = self.gan.g_losses(batch, out)
        finally:
            for d in self.Ds.values():
                d.requires_grad_(True)
        g_total = sum(g_losses.values())
        g_total.backward()
        g_bad = ddp.average_gradients(list(self.G.parameters()), self.info, nonfinite(g_total))
        g_bad = (g_bad > 0).float()
        skip = g_bad if d_bad is None else torch.maximum(d_bad, g_bad)
        self.opt_g.found_inf = skip  # a bad D step skips the whole step, as documented
        self.opt_g.step()
        if self.ema is not None:
            self.ema.update(self.G, skipped=skip)
        self.pending.add(self.step + 1, d_losses, g_losses, d_bad, g_bad)
        self._last_fake = out.image.detach()

    def flush(self) -> StepOutcome | None:
        """Read the queued steps back (one host sync): nonfinite events, the divergence check.
        Returns the latest step's outcome."""
        self.bad_steps, last = settle(self.pending.flush(), self.bad_steps,
                                      self.cfg.train.max_bad_steps, self.metrics.write, self.out)
        return last

    # ---- the loop ----------------------------------------------------------------------------
    def _loader(self):
        cfg = self.cfg
        workers = loader_workers(self.cfg.data.workers)
        sampler = FewShotBatchSampler(
            len(self.dataset), cfg.train.batch_size, cfg.train.k_max,
            lambda s: schedule.seq_len(cfg.train, s), cfg.seed, self.info.rank,
            self.info.world_size, start_step=self.step, end_step=self.total,
            groups=self.mix_groups, weights=parse_mix(cfg.data.mix))
        return torch.utils.data.DataLoader(
            self.dataset, batch_sampler=sampler, num_workers=workers,
            worker_init_fn=_worker_init,
            pin_memory=self.dev.type == "cuda", generator=torch.Generator(),
            persistent_workers=False, prefetch_factor=2 if workers > 0 else None,
            # spawn, not fork: forking a process that already runs OpenMP / mediapipe / OpenCV
            # threads can copy a held lock into the worker and deadlock it
            multiprocessing_context="spawn" if workers > 0 else None)

    def run(self) -> Path:
        tc = self.cfg.train
        if self.step >= self.total:
            return self.save()
        t_start = time.time()
        deadline = t_start + self.minutes * 60 if self.minutes else None
        # throughput counts data loading + the training step, not validation / samples / saving
        window_time, window_n, window_samples = 0.0, 0, 0
        speed = {"it_s": 0.0, "samples_s": 0.0, "samples_s_total": 0.0}
        last_path = None
        with _StopFlag() as stop, make_progress(self.console, self.progress_on) as bar:
            tick = time.time()
            task = bar.add_task("train", total=self.total, completed=self.step, phase="",
                                seq_len=0, k=0, speed="", losses="")
            losses_text = ""
            for batch in self._loader():
                k, t = batch["examples"].shape[1], batch["images"].shape[1]
                lr_g, lr_d = self._set_lr()
                self.train_step(batch)
                self.step += 1
                if self.compiled is not None and \
                        len(self.compiled.first_calls) > getattr(self, "_compiles_logged", 0):
                    self._compiles_logged = len(self.compiled.first_calls)  # a new graph
                    self.metrics.write({"type": "event", "step": self.step, "event": "compile",
                                        "first_step_seconds": self.compiled.first_call_seconds,
                                        "graphs": len(self.compiled.first_calls),
                                        "cache": str(self.compiled.cache_dir)})
                log_step = self.step % tc.log_every == 0 or self.step == self.total
                sample_step = bool(tc.sample_every) and self.step % tc.sample_every == 0
                # the only host sync of a step, and only on log / sample steps
                outcome = self.flush() if log_step or sample_step else None
                ok = outcome is not None and outcome.ok
                window_time += time.time() - tick
                window_n += 1
                window_samples += batch["images"].shape[0]
                if log_step:
                    # measured on log steps only: the all-gather must happen on every rank
                    dt = max(1e-9, window_time)
                    speed = {"it_s": window_n / dt, "samples_s": window_samples / dt}
                    per_rank = ddp.gather_floats(speed["samples_s"], self.info)
                    speed["samples_s_total"] = sum(per_rank)
                    if self.info.enabled:
                        speed["samples_s_per_rank"] = per_rank
                    window_time, window_n, window_samples = 0.0, 0, 0
                if ok and log_step:
                    self.metrics.write({"type": "train", "step": self.step,
                                        "phase": schedule.phase(tc, self.step - 1),
                                        "seq_len": t, "k": k, **outcome.record,
                                        "lr_g": lr_g, "lr_d": lr_d, **speed,
                                        "world_size": self.info.world_size})
                if outcome is not None:
                    losses_text = format_losses(outcome.record) if ok else "skipped"
                bar.update(task, completed=self.step, phase=schedule.phase(tc, self.step - 1),
                           seq_len=t, k=k, losses=losses_text,
                           speed=f"{speed['it_s']:.2f} it/s")
                if ok and sample_step:
                    self.write_samples(batch)
                if tc.val_every and self.step % tc.val_every == 0:
                    self.validate()
                stop_now = stop.signum is not None or (self.stop_at is not None and
                                                       self.step >= self.stop_at)
                out_of_time = deadline is not None and time.time() > deadline
                stop_now, out_of_time = ddp.any_ranks([stop_now, out_of_time], self.info)
                if stop_now:
                    path = self.save()
                    self.metrics.write({"type": "event", "step": self.step,
                                        "event": "interrupted", "signal": stop.signum})
                    raise TrainingInterrupted(self.step, path, stop.signum)
                if out_of_time:
                    self.metrics.write({"type": "event", "step": self.step,
                                        "event": "time_budget", "minutes": self.minutes})
                    break
                if tc.checkpoint_every and self.step % tc.checkpoint_every == 0 \
                        and self.step != self.total:
                    last_path = self.save()
                tick = time.time()
        self.flush()
        if self.step % max(1, tc.sample_every or 1) != 0 and getattr(self, "_last_fake", None) \
                is not None and self.info.is_main:
            self.write_samples(batch)
        if not tc.val_every or self.step % tc.val_every != 0:
            self.validate()
        last_path = self.save()
        self.metrics.write({"type": "event", "step": self.step, "event": "end",
                            "seconds": round(time.time() - t_start, 2)})
        return last_path

    def write_samples(self, batch: dict) -> None:
        if not self.info.is_main or getattr(self, "_last_fake", None) is None:
            return
        grid = sample_grid(batch, self._last_fake, self.cfg.generator.kind)
        save_png(self.out / "samples" / f"step-{self.step:07d}.png", grid)

    def validate(self) -> dict | None:
        if self.validator is None:
            return None
        model = self.ema.model if self.ema is not None else self.G
        with self._autocast():
            res = self.validator(model)
            if self.ema is not None:  # the raw generator too, for comparison
                raw = self.validator(self.G)
                res.update(raw_l1=raw["l1"], raw_psnr=raw["psnr"])
        self.metrics.write({"type": "val", "step": self.step, "ema": self.ema is not None, **res})
        plot_validation(self.out)
        if self.progress_on:
            (self.console or Console(stderr=True)).print(
                f"[dim]step {self.step} val[/]: L1 {res['l1']:.4f} PSNR {res['psnr']:.2f} dB "
                f"(copy-the-example: L1 {res['baseline_l1']:.4f} PSNR {res['baseline_psnr']:.2f})",
                highlight=False)
        return res


__all__ = ["train", "TrainingInterrupted", "TrainingDiverged"]
