"""`v2v synthesize`: K example images of a target + a driver -> a video of the target.

    v2v synthesize --examples a.jpg b.jpg c.jpg --driver dance.mp4 --out out.mp4

`--examples` takes one or more values: everything after it up to the next option is an
example (also `--examples a.jpg --examples b.jpg`). An example is an image file or a clip-dir
frame `CLIPDIR:IDX` / `CLIPDIR:I,J,K`. The driver is a video, a folder of frames, a clip dir,
a keypoints.jsonl or a folder of OpenPose JSON files.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.table import Table

from v2vtool.cli.app import app, command, console
from v2vtool.errors import UserError


def parse_size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m:
        raise UserError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 256x512")
    return int(m.group(1)), int(m.group(2))


@app.command("synthesize", context_settings={"allow_extra_args": True,
                                             "ignore_unknown_options": False})
@command
def synthesize_cmd(
    ctx: typer.Context,
    examples: List[str] = typer.Option(
        ..., "--examples", "-e",
        help="Example image(s) of the target: IMG [IMG ...] or CLIPDIR:IDX[,IDX...]."),
    driver: str = typer.Option(..., "--driver", "-d",
                               help="Video, frame folder, clip dir, keypoints.jsonl or "
                                    "OpenPose JSON folder."),
    out: Path = typer.Option(..., "--out", "-o", help="Output .mp4 (sidecar OUT.json beside)."),
    checkpoint: Optional[Path] = typer.Option(
        None, "--checkpoint", "-c", help="Checkpoint or run dir (default: the shipped weights/default, or "
                                   "$V2V_WEIGHTS/default)."),
    size: Optional[str] = typer.Option(
        None, "--size", help="Output WxH (default: the driver's size capped by --max-height with "
                             "--framing full, the model's with --framing crop)."),
    framing: Optional[str] = typer.Option(
        None, "--framing", help="full: the driver's framing and aspect, the person (rendered at "
                                "the model's resolution, e.g. 192x256, and scaled up) placed "
                                "where the driver's person is, over the examples' scene; crop: "
                                "the model's person-centred crop. Default: full for a video / "
                                "frame folder / clip dir with frames, crop for keypoint-only "
                                "drivers."),
    max_height: int = typer.Option(1080, "--max-height",
                                   help="--framing full: largest output height (the driver's "
                                        "resolution is kept up to it)."),
    side_by_side: bool = typer.Option(False, "--side-by-side",
                                      help="Driver semantics | chosen example | output."),
    attention_maps: Optional[Path] = typer.Option(
        None, "--attention-maps", help="Write which example each output pixel comes from "
                                       "(keypoint-prior models; else the attention over the K "
                                       "examples) per frame: a video (.mp4) or a PNG folder."),
    retarget: bool = typer.Option(True, "--retarget/--no-retarget",
                                  help="Normalise the driver's body / face to the target's."),
    finetune: int = typer.Option(0, "--finetune", min=0,
                                 help="Test-time finetuning steps on the examples."),
    frames_dir: Optional[Path] = typer.Option(None, "--frames-dir",
                                              help="Also write the output frames as PNGs."),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N."),
    fps: Optional[float] = typer.Option(
        None, "--fps", help="Frame rate for keypoint drivers (they store none; default 30)."),
    threads: int = typer.Option(0, "--threads", min=0,
                                help="CPU threads for torch (0: torch's default). On a busy "
                                     "machine 1 is often much faster."),
    amp: str = typer.Option("auto", "--amp",
                            help="auto (bf16 where the CPU / GPU does bf16 natively), bf16, "
                                 "none (fp32)."),
    compile_step: bool = typer.Option(False, "--compile",
                                      help="torch.compile the generator (first frame pays "
                                           "the compile; the kernel cache is reused by later "
                                           "runs)."),
    allow_large: bool = typer.Option(False, "--allow-large",
                                     help="Run a checkpoint whose model frames exceed "
                                          "1024x1024 pixels (slow: seconds to minutes per "
                                          "frame)."),
) -> None:
    """Synthesize a video of the examples' target following the driver's motion.

    --examples takes one or more values (IMG [IMG ...] up to the next option; repeating the
    flag works too). Examples: image files or CLIPDIR:IDX[,IDX...]. Driver: a video, a frame
    folder, a clip dir, a keypoints.jsonl or an OpenPose JSON folder. Writes OUT.mp4 (replaced
    if it exists) and the sidecar OUT.json. The person is rendered at the model's resolution
    (the shipped model: 192x256) in a crop around the driver's person and scaled up; --framing
    full (the default for drivers with pictures) places it back into the driver's frame.
    """
    import torch

    from v2vtool.synthesis import synthesize

    from v2vtool.config_check import check_number

    check_number("--threads", threads, 0, 1024, integer=True)
    if threads:
        torch.set_num_threads(threads)

    extra = [a for a in ctx.args]
    bad = [a for a in extra if a.startswith("-")]
    if bad:
        raise UserError(f"unknown option {bad[0]!r}")
    all_examples = list(examples) + extra
    if fps is not None and fps <= 0:
        raise UserError(f"--fps {fps}: must be positive")
    columns = (SpinnerColumn(), TextColumn("[progress.description]{task.description}"),
               BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[fps]:.1f} fps"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("synthesizing", total=None, fps=0.0)

        def progress(done: int, total: int | None, rate: float) -> None:
            bar.update(task, completed=done, total=total, fps=rate)
            if done == 1:  # the cost up front, from the first frame
                console.print(cost_line(1.0 / max(rate, 1e-9), total, compile_step),
                              highlight=False)

        result = synthesize(all_examples, driver, out, checkpoint=checkpoint,
                            size=parse_size(size), side_by_side=side_by_side,
                            attention_maps=attention_maps, retarget=retarget,
                            finetune=finetune, frames_dir=frames_dir, seed=seed, device=device,
                            progress=progress, driver_fps=fps, amp=amp,
                            compile=compile_step, allow_large=allow_large, framing=framing,
                            max_height=max_height)
    console.print(_summary(result))


def cost_line(first: float, total: int | None, compiled: bool) -> str:
    """The expected cost, from the first frame's seconds (which include any compile)."""
    text = f"expected cost: {first:.2f} s per frame (first frame"
    text += ", includes compiling)" if compiled else ")"
    if total:
        text += f", about {_duration(first * total)} for {total} frames"
    return text


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _summary(r) -> Table:
    t = Table(title="v2v synthesize", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    t.add_row("output", f"{escape(str(r.out))} ({r.size[0]}x{r.size[1]}, {r.frames} frames @ {r.fps:g} fps)")
    timing = r.frame_timing or {}
    if timing.get("mode") == "source-timestamps":
        t.add_row("timing", f"the driver's timestamps (variable frame rate, mean "
                            f"{timing['fps']:.2f} fps, {timing['duration']:.2f} s)")
    if r.view:
        m = r.view["model_size"]
        t.add_row("framing", f"{r.framing}: person rendered at {m[0]}x{m[1]}, crop box "
                             f"{' '.join(str(v) for v in r.view['crop_box'])} in driver px")
    t.add_row("examples (K)", str(r.k))
    t.add_row("retargeted", "yes" if r.retargeted else "no")
    t.add_row("held frames", f"{r.held_frames} (driver frames without a detection)")
    if r.implausible_keypoints:
        t.add_row("far keypoints", f"{r.implausible_keypoints} (more than one frame size "
                                   "outside the frame: read as missing joints)")
    t.add_row("speed", f"{r.throughput_fps:.1f} frames/s end-to-end, "
                       f"{r.generator_fps:.1f} frames/s generator; setup {r.setup_seconds:.1f} s")
    if r.fast_path:
        fp = r.fast_path
        text = (f"{fp['device']}, {'bf16' if fp['amp'] == 'bf16' else 'fp32'}"
                f"{', channels_last' if fp['channels_last'] else ''}")
        if fp.get("compile"):
            text += f", compiled (compile {fp['compile_first_call_seconds'] or 0:.1f} s)"
        t.add_row("fast path", text)
    if r.finetune:
        t.add_row("finetune", f"{r.finetune['steps']} steps, loss {r.finetune['loss_first']:.4f}"
                              f" -> {r.finetune['loss_last']:.4f}")
    if r.attention_maps:
        t.add_row("attention maps", escape(str(r.attention_maps)))
    if r.frames_dir:
        t.add_row("frames", escape(str(r.frames_dir)))
    t.add_row("sidecar", escape(str(r.sidecar)))
    t.add_row("checkpoint", f"{escape(str(r.checkpoint))} (sha256 {r.checkpoint_sha256[:12]})")
    return t
