"""`v2v data synth | import | info`: benchmark data, dataset importers, dataset summaries."""
from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from v2vtool.cli.app import app, command, console
from v2vtool.errors import UserError

data_app = typer.Typer(
    name="data", no_args_is_help=True, rich_markup_mode="rich",
    help="Benchmark data: procedural dancers ([bold]synth[/]), dataset importers "
         "([bold]import[/]) and summaries ([bold]info[/]).")
app.add_typer(data_app, name="data")


@contextmanager
def _bar(label: str) -> Iterator:
    """A progress callback (done, total); the bar appears on the first update, so errors
    raised before any work print as one clean line."""
    state: dict = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                    MofNCompleteColumn(), TimeRemainingColumn(),
                                    console=console, transient=True)
            state["bar"].start()
            state["task"] = state["bar"].add_task(label, total=total)
        state["bar"].update(state["task"], completed=done, total=total)
    try:
        yield update
    finally:
        if "bar" in state:
            state["bar"].stop()


@data_app.command("synth", epilog="""
Examples:

  v2v data synth --out data/dancers --identities 100 --test-identities 20 --size 128

  v2v data synth --out data/a_as_b --motion-from data/dancers/id0003/clip00 \\
      --dataset data/dancers --identity id0017
""")
@command
def synth(
    out: Path = typer.Option(..., "--out", help="Output folder (dataset, or one clip with "
                             "--motion-from)."),
    identities: int = typer.Option(20, help="Number of identities (appearances)."),
    clips_per_identity: int = typer.Option(2, help="Dance clips per identity."),
    frames: int = typer.Option(60, help="Frames per clip (15 fps)."),
    size: int = typer.Option(128, help="Frame size in pixels (square, 64..512)."),
    seed: int = typer.Option(0, help="Seed: same seed, same bytes."),
    test_identities: Optional[int] = typer.Option(
        None, help="Held-out identities (default: a fifth, at least 1 when possible)."),
    motion_from: Optional[Path] = typer.Option(
        None, help="Render --identity of --dataset with this clip's keypoints (exact truth)."),
    dataset: Optional[Path] = typer.Option(None, help="Dataset of the identity (--motion-from)."),
    identity: Optional[str] = typer.Option(None, help="Identity id, e.g. id0003 (--motion-from)."),
    workers: int = typer.Option(0, help="Parallel processes (0: one per CPU core, max 8)."),
    overwrite: bool = typer.Option(False, help="Replace an existing output."),
) -> None:
    """Procedural multi-identity dancers with exact ground truth (clip dirs + manifest)."""
    from v2vtool.data.synth import generate_dataset, render_motion_clip

    t0 = time.perf_counter()
    if motion_from is not None:
        if dataset is None or identity is None:
            raise UserError("--motion-from needs --dataset DIR and --identity ID")
        with _bar("rendering") as update:
            path = render_motion_clip(dataset, identity, motion_from, out, overwrite=overwrite,
                                      progress=update)
        console.print(escape(f"wrote {path}: identity {identity} with the motion of {motion_from}"))
        return
    if workers < 0 or workers > 64:
        raise UserError(f"--workers {workers}: must be in 0..64 (0: one per CPU core, max 8)")
    if test_identities is None:
        test_identities = max(1, identities // 5) if identities > 1 else 0
    with _bar("dancers") as update:
        generate_dataset(out, identities, clips_per_identity, frames, size, seed,
                         test_identities, progress=update, overwrite=overwrite,
                         workers=workers if workers > 0 else min(8, os.cpu_count() or 1))
    dt = time.perf_counter() - t0
    total = identities * clips_per_identity * frames
    table = Table(title=f"v2v data synth -> {escape(str(out))}")
    for col in ("identities", "train / test", "clips", "frames", "size", "seconds",
                "frames/s"):
        table.add_column(col, justify="right")
    table.add_row(str(identities), f"{identities - test_identities} / {test_identities}",
                  str(identities * clips_per_identity), str(total), f"{size}x{size}",
                  f"{dt:.1f}", f"{total / dt:.0f}")
    console.print(table)


@data_app.command("import", epilog="""
Layouts: SRC/images/<seq>/*.jpg with SRC/poses-openpose/<seq>/*.json (openpose),
SRC/landmarks-dlib68/<seq>/*.json (dlib68) or SRC/seg_maps/<seq>/*.png (labelmap).

Examples:

  v2v data import --format openpose dance_videos --out data/dance

  v2v data import --format dlib68 faces --out data/faces
""")
@command
def import_(
    src: Path = typer.Argument(..., help="Dataset folder (see layouts below)."),
    fmt: str = typer.Option(..., "--format", help="openpose | dlib68 | labelmap"),
    out: Path = typer.Option(..., "--out", help="Output folder of clip dirs."),
    fps: float = typer.Option(30.0, help="Frame rate recorded in the clips."),
    overwrite: bool = typer.Option(False, help="Replace an existing output."),
) -> None:
    """Convert OpenPose / dlib-68 / label-map datasets into clip dirs."""
    from v2vtool.data.importers import FORMATS, import_dataset

    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    with _bar("sequences") as update:
        report = import_dataset(src, out, fmt, fps=fps, overwrite=overwrite, progress=update)
    table = Table(title=f"v2v data import ({fmt}) -> {escape(str(out))}")
    for col in ("clip", "kind", "frames", "skipped", "size"):
        table.add_column(col, justify="right" if col in ("frames", "skipped") else "left")
    for c in report.clips:
        table.add_row(escape(c["name"]), c["kind"], str(c["frames"]), str(c["skipped"]),
                      f"{c['width']}x{c['height']}")
    console.print(table)
    if report.implausible_keypoints:
        console.print(f"[yellow]{report.implausible_keypoints} keypoint(s) more than one frame "
                      "size outside their image were treated as missing joints[/]")
    if report.problems:
        console.print(f"[yellow]{len(report.problems)} problem(s) (skipped):[/]")
        for p in report.problems[:30]:
            console.print(escape(f"  {p.file}: {p.message}"), highlight=False, soft_wrap=True)
        if len(report.problems) > 30:
            console.print(escape(f"  ... and {len(report.problems) - 30} more (see "
                                 f"{out / 'manifest.json'})"))


@data_app.command("info", epilog="""
Examples:

  v2v data info data/dancers

  v2v data info data/dancers --json > info.json
""")
@command
def info(
    path: Path = typer.Argument(..., help="A clip dir or a folder of clip dirs."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON to stdout."),
) -> None:
    """Identities, clips, frames, sizes, kinds, split and detection rates of a dataset."""
    from v2vtool.data.info import dataset_info

    result = dataset_info(path)
    problems = result["problems"]
    if problems:  # one line: what differs, the first case (the JSON lists them all)
        more = f" (and {len(problems) - 1} more; see --json)" if len(problems) > 1 else ""
        console.print(f"[yellow]warning:[/] {escape(problems[0])}{escape(more)}",
                      highlight=False, soft_wrap=True)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    s = result["summary"]
    table = Table(title=escape(f"{path}") + (f" ({result['format']})" if result["format"] else ""),
                  show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    table.add_row("identities", str(s["identities"]))
    listed = s.get("manifest_clips")
    table.add_row("clips", str(s["clips"]) + (f" (manifest.json lists {listed})"
                                              if listed is not None and listed != s["clips"]
                                              else ""))
    table.add_row("frames", str(s["frames"]))
    table.add_row("sizes", ", ".join(s["sizes"]))
    table.add_row("kinds", ", ".join(f"{k} ({n} frames)" for k, n in s["kinds"].items()))
    if s["split"]:
        table.add_row("split", f"train {len(s['split']['train'])} identities, "
                               f"test {len(s['split']['test'])}: "
                               f"{', '.join(s['split']['test'][:8])}")
    if s["detection_rate"]:
        d = s["detection_rate"]
        table.add_row("detection rate", f"{d['overall']:.3f} (clips {d['min_clip']:.3f}.."
                                        f"{d['max_clip']:.3f})")
    if s["views"]:
        table.add_row("views", ", ".join(f"{k} {n}" for k, n in s["views"].items()))
    console.print(table)
