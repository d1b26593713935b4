"""`v2v extract`: videos / image folders / images -> clip directories of semantic inputs."""
from __future__ import annotations

import shutil
import time
from enum import Enum
from pathlib import Path
from typing import List

import typer
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.markup import escape
from rich.table import Table

from v2vtool.cli.app import app, command, console
from v2vtool.errors import UserError
from v2vtool.semantics.kinds import KINDS, get_kind

# --kind choices: every kind of the registry (semantics/kinds.py)
Kind = Enum("Kind", {name: name for name in KINDS}, type=str)


HELP = (
    "Extract semantic inputs (pose, face, edges, segmentation) from videos into clip dirs.\n\n"
    "Each INPUT (a video: mp4/avi/mov/webm/mkv, a folder of PNG/JPG frames, or one image) "
    "becomes OUT/<input stem>/; a folder of videos stands for each video in it. Every input "
    "is checked before any work starts.\n\n"
    "A clip dir has frames/, keypoints.jsonl (pose, face; OpenPose layout), semantics/, "
    "masks/ (pose) and meta.json. Frames where nothing is detected are kept and counted.\n\n"
    "[bold]Examples[/]\n\n"
    "  v2v extract talking.mp4 --kind face --out clips/\n\n"
    "  v2v extract dance1.mp4 dance2.mp4 --kind pose --out clips/ --workers 2\n\n"
    "  v2v extract videos/ --kind pose --out clips/ --workers 2 --no-smooth\n\n"
    "  v2v extract frames_dir/ --kind edges --out clips/ --fps 30\n\n"
    "  v2v extract labels/ --kind segmentation --out clips/ --images leftImg8bit/\n"
)


def _expand(inputs: list[Path]) -> list[Path]:
    """A folder holding videos (and no PNG/JPG frames) stands for those videos."""
    from v2vtool.io.sequence import natural_sorted
    from v2vtool.io.video import IMAGE_EXTS, VIDEO_EXTS

    out: list[Path] = []
    for p in inputs:
        if p.is_dir():
            files = natural_sorted(f for f in p.iterdir() if f.is_file())
            videos = [f for f in files if f.suffix.lower() in VIDEO_EXTS]
            if videos and not any(f.suffix.lower() in IMAGE_EXTS for f in files):
                out.extend(videos)
                continue
        out.append(p)
    return out


def _validate(inputs: list[Path], out: Path, kind: str, overwrite: bool, fps: float | None,
              images: Path | None = None) -> None:
    """Check every input opens and no output exists before any work starts (nothing written):
    no clip dir may be, contain or lie inside an input, and --overwrite only replaces clip
    dirs written by v2v."""
    from v2vtool.io.guard import check_outputs, check_replaceable, is_clip_output
    from v2vtool.io.video import open_video
    from v2vtool.semantics.extract import output_dir

    targets: dict[Path, Path] = {}
    named_inputs = [("INPUT", p) for p in inputs] + [("--images", images)]
    for src in inputs:
        with open_video(src, fps=fps, mode=get_kind(kind).input_mode):
            pass
        target = output_dir(src, out)
        if target in targets:
            raise UserError(f"{src}: same output name as {targets[target]} ({target})")
        targets[target] = src
        check_outputs([("clip dir", target)], named_inputs)
        if target.exists() and not overwrite:
            raise UserError(f"{target}: output exists (use --overwrite to replace it)")
        check_replaceable(target, is_clip_output, "a clip dir written by v2v extract")


@app.command("extract", help=HELP)
@command
def extract(
    inputs: List[Path] = typer.Argument(..., metavar="INPUT...",
                                        help="Videos, folders of PNG/JPG frames, or images."),
    kind: Kind = typer.Option("pose", "--kind", "-k", help="What to extract: " + "; ".join(
        f"{k.name}: {k.summary}" for k in KINDS.values()) + "."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: one clip dir per input."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing clip dirs."),
    no_smooth: bool = typer.Option(False, "--no-smooth",
                                   help="Disable temporal smoothing of keypoints (zero-lag "
                                        "centred fits over 9 frames)."),
    workers: int = typer.Option(1, "--workers", "-j", min=1,
                                help="Parallel workers (threads; mediapipe, decoding and PNG "
                                     "writing release the GIL): inputs run side by side, and "
                                     "with fewer inputs than workers each video's frames are "
                                     "dealt to several detectors."),
    processes: bool = typer.Option(False, "--processes",
                                   help="Run the workers as separate processes instead."),
    fps: float = typer.Option(None, "--fps", min=0.001,
                              help="Frame rate of image-folder inputs (default 25)."),
    images: Path = typer.Option(None, "--images",
                                help="segmentation: the RGB frames that go with the label maps "
                                     "(one input only); default: palette view of the ids."),
) -> None:
    from v2vtool.semantics.extract import extract_clip, extract_many

    if images is not None and (get_kind(kind.value).input_mode != "ids" or len(inputs) != 1):
        raise UserError("--images: only with --kind segmentation and a single input")
    from v2vtool.config_check import check_number

    check_number("--fps", fps, 0, 1000, lo_open=True)
    check_number("--workers", workers, 1, 64, integer=True)
    out_created = not out.exists()
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a directory")
    inputs = _expand(inputs)
    _validate(inputs, out, kind.value, overwrite, fps, images)

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    results = []
    t0 = time.perf_counter()
    try:
        with Progress(*columns, console=console, transient=True) as bar:
            tasks = [bar.add_task(escape(f"{kind.value} {p.name}"), total=None) for p in inputs]

            def progress(index: int, done: int, total: int) -> None:
                bar.update(tasks[index], completed=done, total=total)

            if images is not None:
                clip = extract_clip(inputs[0], out, kind.value, smooth=not no_smooth,
                                    overwrite=overwrite, fps=fps, images=images,
                                    progress=lambda d, t: progress(0, d, t))
                results = [(str(inputs[0]), clip, None)]
            else:
                results = extract_many(inputs, out, kind.value, smooth=not no_smooth,
                                       overwrite=overwrite, workers=workers, fps=fps,
                                       progress=progress,
                                       parallel="processes" if processes else "threads")
    finally:
        if out_created and out.is_dir() and not any(out.iterdir()):
            shutil.rmtree(out, ignore_errors=True)  # nothing was written: leave nothing
    if any(clip is not None for _, clip, _ in results):
        _summary(results, time.perf_counter() - t0)
    errors = [msg for _, _, msg in results if msg]
    if errors:  # one `error:` line; the other failed inputs listed above it
        for msg in errors[1:]:
            console.print(f"[red]also failed:[/] {escape(msg)}", highlight=False,
                          soft_wrap=True, emoji=False)
        raise UserError(errors[0] if len(errors) == 1
                        else f"{errors[0]} (and {len(errors) - 1} more failed inputs above)")


def _summary(results: list, seconds: float) -> None:
    import json

    table = Table(title="v2v extract", title_style="bold")
    for col, justify in (("input", "left"), ("clip dir", "left"), ("frames", "right"),
                         ("detected", "right"), ("rate", "right"), ("fps", "right")):
        table.add_column(col, justify=justify)
    total = far = 0
    for src, clip, err in results:
        if clip is None:
            table.add_row(escape(Path(src).name), "[red]failed[/]", "-", "-", "-", "-")
            continue
        meta = json.loads((Path(clip) / "meta.json").read_text())
        total += meta["frame_count"]
        far += meta.get("implausible_keypoints", 0)
        rate = meta.get("detection_rate")
        table.add_row(escape(Path(src).name), escape(str(clip)), str(meta["frame_count"]),
                      str(meta.get("frames_detected", "-")),
                      "-" if rate is None else f"{rate:.1%}",
                      f"{meta['processing']['fps']:.1f}")
    console.print(table)
    if far:
        console.print(f"[yellow]{far} keypoint(s) more than one frame size outside the frame "
                      "were treated as missing joints[/]")
    if total:
        console.print(f"{total} frames in {seconds:.1f} s ({total / seconds:.1f} frames/s overall)")
