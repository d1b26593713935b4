"""`v2v train`: clip directories -> a run dir with checkpoints, samples and metrics.

    v2v train --data DIR [DIR...] --preset tiny --out RUN [--steps N | --minutes M]
              [--set key=value ...] [--resume] [--device auto|cpu|cuda] [--nproc P]

`--nproc P` (> 1) re-launches the same command under torchrun with P processes (gloo on CPU,
NCCL on GPU); running `torchrun --nproc_per_node P -m v2vtool.cli train ...` directly works
too. On success the final checkpoint is printed as JSON on stdout.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from v2vtool.cli.app import app, command, console
from v2vtool.errors import UserError


def _torchrun_argv(data: list[Path], preset: str, out: Path, steps, minutes, sets, resume,
                   device: str, nproc: int, init: Path | None = None) -> list[str]:
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={nproc}", "-m", "v2vtool.cli", "train"]
    for d in data:
        argv += ["--data", str(d)]
    argv += ["--preset", preset, "--out", str(out), "--device", device]
    if steps is not None:
        argv += ["--steps", str(steps)]
    if minutes is not None:
        argv += ["--minutes", str(minutes)]
    for s in sets:
        argv += ["--set", s]
    if resume:
        argv.append("--resume")
    if init is not None:
        argv += ["--init", str(init)]
    return argv


@app.command("train", context_settings={"allow_extra_args": True}, epilog=(
    "Examples:\n\n"
    "  v2v train --data data/dancers --preset tiny --out runs/tiny --minutes 30\n\n"
    "  v2v train --data data/dancers --out runs/tiny --resume\n\n"
    "  v2v train --data data/real --preset pose-256 --out runs/pose --device cuda "
    "--set train.amp=bf16 --nproc 8"))
@command
def train_cmd(
    ctx: typer.Context,
    data: List[Path] = typer.Option(..., "--data", help="Clip dirs or folders of clip dirs "
                                    "(several allowed: --data A B or --data A --data B)."),
    preset_name: str = typer.Option("tiny", "--preset", help="tiny | pose-256 | face-256 | "
                                    "street-512"),
    out: Path = typer.Option(..., "--out", help="Run directory (created)."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Total training steps "
                                        "(train.steps)."),
    minutes: Optional[float] = typer.Option(None, "--minutes", help="Wall-clock budget of this "
                                            "invocation; saves a checkpoint and stops."),
    sets: List[str] = typer.Option([], "--set", help="Config override section.key=value "
                                   "(repeatable), e.g. --set train.amp=bf16."),
    resume: bool = typer.Option(False, "--resume", help="Continue RUN/checkpoints/latest "
                                "exactly (config from the checkpoint)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    nproc: int = typer.Option(1, "--nproc", help="Data-parallel processes (torchrun)."),
    init: Optional[Path] = typer.Option(None, "--init", help="Start from this generator "
                                        "checkpoint's weights (e.g. weights/default, to finetune "
                                        "it on your own footage); same architecture, any size."),
) -> None:
    """Train a few-shot vid2vid generator on clip directories."""
    from v2vtool.config import apply_overrides, preset
    from v2vtool.config_check import validate_config
    from v2vtool.training import TrainingInterrupted, train
    from v2vtool.training.loop import check_budget

    extra = [a for a in ctx.args]
    bad = [a for a in extra if a.startswith("-")]
    if bad:
        raise UserError(f"unknown option {bad[0]!r}")
    data = list(data) + [Path(a) for a in extra]
    check_budget(steps, minutes)
    if not 1 <= nproc <= 256:
        raise UserError(f"--nproc {nproc}: must be in 1..256")
    cfg = validate_config(apply_overrides(preset(preset_name), sets))
    if resume and (sets or preset_name != "tiny") and int(os.environ.get("RANK", "0")) == 0:
        console.print("[yellow]note:[/] --resume continues with the run's own config "
                      "(checkpoint config.json); --preset / --set are not applied "
                      "(--steps may extend the run)", highlight=False)
    if init is not None and resume:
        raise UserError("--init starts a new run from a checkpoint's weights; --resume continues "
                        "a run: use one of them")
    if nproc > 1:
        if "WORLD_SIZE" in os.environ:
            raise UserError("--nproc inside a torchrun process: drop --nproc")
        argv = _torchrun_argv(data, preset_name, out, steps, minutes, sets, resume, device,
                              nproc, init)
        console.print(escape(f"launching {nproc} processes: {' '.join(argv[2:])}"), highlight=False)
        rc = subprocess.call(argv)
        if rc != 0:
            raise typer.Exit(rc if rc in (2, 130, 143) else 1)
        return
    rank0 = int(os.environ.get("RANK", "0")) == 0
    try:
        path = train(data, out, cfg, steps=steps, minutes=minutes, resume=resume, device=device,
                     console=console, init=init)
    except TrainingInterrupted as exc:
        if rank0:
            console.print(f"[yellow]interrupted[/] at step {exc.step}; checkpoint saved to "
                          f"{escape(str(exc.checkpoint))}; continue with the same command plus "
                          "--resume",
                          highlight=False)
        raise typer.Exit(128 + exc.signum if exc.signum else 0) from None
    if rank0:
        console.print(f"[green]done[/]: checkpoint {escape(str(path))}", highlight=False)
        typer.echo(json.dumps({"run": str(out), "checkpoint": str(path)}))
