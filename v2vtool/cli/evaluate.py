"""`v2v evaluate`: score a generated video (or run the benchmark protocol, or compare runs)."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from v2vtool.cli.app import app, command, console
from v2vtool.errors import UserError
from v2vtool.io.atomic import atomic_path


_NONFINITE_TEXT = ("nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity")


def _nonfinite(v) -> bool:
    """NaN / inf as a number (JSON's NaN / Infinity, 1e999) or as text ("nan", "-inf")."""
    if isinstance(v, float):
        return not math.isfinite(v)
    return isinstance(v, str) and v.strip().lower() in _NONFINITE_TEXT


def _fmt(v) -> str:
    if v is None or _nonfinite(v):  # never a table value (see the notes)
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _finite(obj):
    """JSON has no NaN / inf: a non-finite number is written as null (never as NaN)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _nonfinite_to_skipped(rep: dict) -> dict:
    """A NaN / inf metric is no result: it is listed under "skipped", never reported."""
    for k, v in list(rep["metrics"].items()):
        if isinstance(v, float) and not math.isfinite(v):
            del rep["metrics"][k]
            rep["skipped"][k] = f"{k} came out {v} (not a finite number): not reported"
    return rep


def _write_json(obj: dict, path: Optional[Path]) -> None:
    text = json.dumps(_finite(obj), indent=2, default=str, allow_nan=False)
    if path is None:
        typer.echo(text)
        return
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text + "\n")
    console.print(f"wrote {escape(str(path))}")


def _sidecar_file(generated: Optional[Path]) -> Optional[Path]:
    """The synthesis sidecar read along with --generated (an input too), if there is one."""
    if generated is None:
        return None
    side = generated.with_suffix(".json") if generated.suffix else \
        generated.parent / f"{generated.name}.json"
    return side if side.is_file() else None


def _check_json_out(path: Optional[Path], inputs: list) -> None:
    """--json may not touch an input, and replaces only a JSON file written by v2v."""
    from v2vtool.io.guard import check_outputs

    if path is None:
        return
    check_outputs([("--json", path)], inputs)
    if path.is_dir():
        raise UserError(f"{path}: --json: is a directory")
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError):
            old = None
        fmt = str(old.get("format", "")) if isinstance(old, dict) else ""
        if not fmt.startswith(("v2v-metrics/", "v2v-benchmark/", "v2v-benchmark-real/")):
            raise UserError(f"{path}: --json: existing file is not a v2v metrics file; not "
                            "replaced (remove it or choose another path)")


def print_report(rep: dict, title: str = "metrics") -> None:
    t = Table(title=title)
    t.add_column("metric")
    t.add_column("value", justify="right")
    for k, v in rep["metrics"].items():
        t.add_row(k, _fmt(v))
    console.print(t)
    for k, why in rep.get("skipped", {}).items():
        console.print(f"[yellow]skipped[/] {k}: {escape(str(why))}", highlight=False, soft_wrap=True)
    for note in rep.get("notes", []):
        console.print(f"[dim]note: {escape(str(note))}[/]", highlight=False, soft_wrap=True)


def compare_reports(paths: list[Path]) -> tuple[Table, list[str]]:
    """The metrics of several reports side by side, and notes on values shown as "-" because
    they are not finite numbers (NaN / inf)."""
    reps = []
    for p in paths:
        try:
            reps.append(json.loads(Path(p).read_text()))
        except FileNotFoundError:
            raise UserError(f"{p}: --compare: file not found") from None
        except IsADirectoryError:
            raise UserError(f"{p}: --compare: is a directory, expected a metrics JSON") from None
        except (ValueError, RecursionError) as exc:
            raise UserError(f"{p}: --compare: not valid JSON "
                            f"({' '.join(str(exc).split())[:120]})") from None
        if not isinstance(reps[-1], dict) or not isinstance(reps[-1].get("metrics"), dict):
            raise UserError(f"{p}: --compare: not a v2v metrics file (no 'metrics' object)")
    keys: list[str] = []
    for r in reps:
        keys += [k for k in r["metrics"] if k not in keys]
    t = Table(title="comparison")
    t.add_column("metric")
    for p in paths:
        t.add_column(escape(Path(p).name), justify="right")
    notes = []
    for k in keys:
        t.add_row(k, *[_fmt(r["metrics"].get(k)) for r in reps])
        notes += [f"{Path(p).name}: {k} is {r['metrics'][k]} (not a finite number): shown as -"
                  for p, r in zip(paths, reps) if _nonfinite(r["metrics"].get(k))]
    return t, notes


def _benchmark_real(benchmark: Path, checkpoint: Path, ks: list[int], seed: int,
                    max_frames: Optional[int], strips: Optional[Path],
                    json_out: Optional[Path]) -> None:
    from v2vtool.benchmark_real import DEFAULT_MAX_FRAMES, run_benchmark_real
    from v2vtool.benchmark_real_report import print_benchmark_real
    from v2vtool.io.guard import check_distinct

    check_distinct([("--strips", strips), ("--json", json_out)])
    res = run_benchmark_real(benchmark, checkpoint, ks,
                             max_frames=max_frames or DEFAULT_MAX_FRAMES, seed=seed,
                             strips=strips, console=console)
    print_benchmark_real(res, console)
    _write_json(res, json_out)


@app.command("evaluate", epilog=(
    "Examples:\n\n"
    "  v2v evaluate --generated out.mp4 --real truth_clip/ --driver driver_clip/ --json m.json\n\n"
    "  v2v evaluate --benchmark data/dancers --checkpoint weights/default --k 1,2,4\n\n"
    "  v2v evaluate --benchmark my_clips/ --checkpoint weights/default --strips strips/\n\n"
    "  v2v evaluate --compare a.json b.json"))
@command
def evaluate(
    generated: Optional[Path] = typer.Option(None, "--generated", "-g",
                                             help="Generated video (mp4) or PNG folder."),
    real: Optional[Path] = typer.Option(None, "--real", help="Ground-truth / real frames "
                                        "(video, PNG folder or clip dir)."),
    driver: Optional[Path] = typer.Option(None, "--driver", help="Driving source: clip dir, "
                                          "keypoints .jsonl, OpenPose JSON folder or video."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the metrics JSON here "
                                            "(default: stdout)."),
    fid_weights: Optional[Path] = typer.Option(None, "--fid-weights", help="pytorch-fid "
                                               "Inception weights (pt_inception-2015-12-05-"
                                               "6726825d.pth)."),
    lpips_backbone: Optional[Path] = typer.Option(None, "--lpips-backbone", help="torchvision "
                                                  "AlexNet weights (alexnet-owt-7be5be79.pth)."),
    pose_estimator: str = typer.Option("auto", "--pose-estimator",
                                       help="auto, extract (mediapipe, real footage) or keynet "
                                       "(benchmark keypoint net; auto picks it for `v2v data "
                                       "synth` drivers)."),
    reference_height: int = typer.Option(512, "--reference-height",
                                         help="Pose error is reported in pixels of frames this "
                                         "tall."),
    compare: Optional[list[Path]] = typer.Option(None, "--compare", help="Metrics JSON files "
                                                 "to print side by side (repeat or list)."),
    benchmark: Optional[Path] = typer.Option(None, "--benchmark", help="A `v2v data synth` "
                                             "set: run the benchmark protocol; a clip dir made "
                                             "by `v2v extract` from real video, or a folder of "
                                             "them: run the real-footage protocol."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Checkpoint (or run "
                                              "dir) for --benchmark."),
    k: str = typer.Option("1,2,4", "--k", help="Comma-separated K values (--benchmark)."),
    seed: int = typer.Option(0, "--seed", help="Protocol seed (--benchmark)."),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", help="Driver frames per "
                                             "identity of the regular rows (--benchmark; "
                                             "default: whole clip; real footage: 48); the "
                                             "drift driver keeps its --drift-frames."),
    drift_frames: int = typer.Option(120, "--drift-frames", min=0, help="Length of the long "
                                     "generated driver per identity whose PSNR is reported "
                                     "per quarter (--benchmark; 0: skip the drift rows)."),
    strips: Optional[Path] = typer.Option(None, "--strips", help="Write one PNG strip per "
                                          "clip here (--benchmark on real footage): truth, "
                                          "driver, model K=1/2, prior-warp."),
    extra: Optional[list[str]] = typer.Argument(None, hidden=True),
) -> None:
    """Score a generated video: reconstruction (PSNR/SSIM/L1/LPIPS; PSNR per quarter of the
    video; with a --real clip dir's person masks: PSNR inside the person and the error outside
    it), FID, temporal consistency (flow-warping error) and pose error, as far as the inputs
    allow; or run the benchmark."""
    from v2vtool.config_check import MAX_SEED, check_number

    if compare:
        table, notes = compare_reports(list(compare) + [Path(e) for e in (extra or [])])
        console.print(table)
        for note in notes:
            console.print(f"[dim]note: {escape(note)}[/]", highlight=False, soft_wrap=True)
        return
    if extra:
        raise UserError(f"unexpected arguments: {' '.join(extra)}")
    check_number("--reference-height", reference_height, 1, 100_000, integer=True)
    check_number("--seed", seed, 0, MAX_SEED, integer=True)
    check_number("--max-frames", max_frames, 1, 10**7, integer=True)
    check_number("--drift-frames", drift_frames, 0, 3000, integer=True)  # held in memory
    if 0 < drift_frames < 4:
        raise UserError(f"--drift-frames {drift_frames}: needs at least 4 frames (or 0)")
    for opt, weights in (("--fid-weights", fid_weights), ("--lpips-backbone", lpips_backbone)):
        if weights is not None and not weights.is_file():
            raise UserError(f"{weights}: {opt}: " + ("is a directory, expected the weights file"
                                                     if weights.is_dir() else "file not found"))
    _check_json_out(json_out, [("--generated", generated),
                               ("the sidecar of --generated", _sidecar_file(generated)),
                               ("--real", real), ("--driver", driver), ("--benchmark", benchmark),
                               ("--checkpoint", checkpoint), ("--fid-weights", fid_weights),
                               ("--lpips-backbone", lpips_backbone)])
    if strips is not None and benchmark is None:
        raise UserError("--strips goes with --benchmark (real footage)")
    if benchmark is not None:
        from v2vtool.benchmark import parse_k, print_benchmark, run_benchmark

        if checkpoint is None:
            raise UserError("--benchmark needs --checkpoint")
        if generated is not None or real is not None or driver is not None:
            raise UserError("--benchmark scores a checkpoint on the benchmark set; it does not "
                            "take --generated / --real / --driver")
        ks = parse_k(k)
        if not (benchmark / "manifest.json").is_file():  # real footage: clip dirs
            _benchmark_real(benchmark, checkpoint, ks, seed, max_frames, strips, json_out)
            return
        if strips is not None:
            raise UserError("--strips: only the real-footage protocol (clip dirs) writes strips")
        res = run_benchmark(benchmark, checkpoint, ks=ks, seed=seed, max_frames=max_frames,
                            fid_weights=fid_weights, console=console, drift_frames=drift_frames)
        print_benchmark(res, console)
        _write_json(res, json_out)
        return
    if generated is None:
        raise UserError("--generated is required (or --compare / --benchmark)")
    from v2vtool.metrics.evaluate import evaluate_video

    with console.status("evaluating") as status:
        rep = evaluate_video(generated, real=real, driver=driver, fid_weights=fid_weights,
                             lpips_backbone=lpips_backbone, pose_estimator=pose_estimator,
                             reference_height=reference_height,
                             progress=lambda s: status.update(f"evaluating: {escape(s)}"))
    d = _nonfinite_to_skipped(rep.to_dict())
    print_report(d, f"metrics: {escape(str(generated))}")
    _write_json(d, json_out)
