"""`v2v demo`: the newcomer's first run, on the shipped checkpoint and examples (found by
`v2vtool.resources`: the source tree, else the installed share/v2vtool/, or --weights /
$V2V_WEIGHTS).

    weights/default/           the shipped model (procedural dancers, 192x256)
    examples/target_front.png  two views of a held-out identity (never seen in training)
    examples/target_back.png
    examples/driver/           a clip dir of another identity dancing (the motion to follow)
    examples/truth/            the held-out identity rendered with the driver's motion (exact
                               truth, `v2v data synth --motion-from`), for the metrics

The driver is synthesized with K=1 (front) and K=2 (front + back), each scored against the truth
with the same metrics as `v2v evaluate` (no retargeting: the truth is rendered on the driver's
own skeleton, so retargeting would move the target away from its exact truth). LPIPS and FID
use their weights only when already on disk: the demo never downloads (CI has no network).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from v2vtool import __version__
from v2vtool.errors import UserError
from v2vtool.io.atomic import atomic_dir
from v2vtool.io.guard import check_outputs, check_replaceable
from v2vtool.resources import find_examples, find_weights

DEMO_FORMAT = "v2v-demo/1"
HEADLINE = ("psnr", "ssim", "l1", "pose_error", "warp_error")


@dataclass(frozen=True)
class DemoCase:
    name: str  # output stem: demo_k1, demo_k2
    examples: tuple[str, ...]  # file names under the examples dir


CASES = (DemoCase("demo_k1", ("target_front.png",)),
         DemoCase("demo_k2", ("target_front.png", "target_back.png")))


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise UserError(f"{path}: {what} not found")
    return path


def run_demo(out: str | os.PathLike, checkpoint: str | os.PathLike | None = None,
             examples_dir: str | os.PathLike | None = None, device: str = "auto",
             say: Callable[[str], None] = lambda s: None,
             weights: str | os.PathLike | None = None) -> dict:
    """Synthesize the shipped driver for K=1 and K=2, score both, write DIR/metrics.json.

    Writes demo_k1.mp4, demo_k2.mp4, demo_side_by_side.mp4 (K=2: semantics | chosen example |
    output), attention_k2.mp4 (which example each output pixel comes from, per frame) and
    metrics.json.
    Returns the metrics dict that went into metrics.json. `weights`: a folder laid out like
    weights/ (default/ + keypoints/) to use instead of the shipped one.
    """
    from v2vtool.metrics.evaluate import evaluate_video
    from v2vtool.synthesis import synthesize

    out = Path(out)
    ex_dir = Path(examples_dir) if examples_dir is not None else find_examples()
    ckpt = (_require(Path(checkpoint), "checkpoint") if checkpoint is not None
            else find_weights("default", weights))
    keynet_dir = Path(weights) / "keypoints" if weights is not None else None
    driver = _require(ex_dir / "driver", "demo driver clip")
    truth = _require(ex_dir / "truth", "demo truth clip")
    case_examples = {c.name: [_require(ex_dir / e, "example image") for e in c.examples]
                     for c in CASES}
    check_outputs([("--out", out)], [("--examples-dir", ex_dir), ("--checkpoint", ckpt)])
    if os.path.lexists(out) and not out.is_dir():
        raise UserError(f"{out}: exists and is not a directory (--out is a folder)")
    check_replaceable(out, _is_demo, "a folder written by v2v demo")
    t0 = time.perf_counter()
    results: dict = {"format": DEMO_FORMAT, "version": __version__, "checkpoint": str(ckpt),
                     "driver": str(driver), "truth": str(truth), "cases": {}}
    # everything goes to a temporary folder that replaces OUT only when the demo is complete
    with atomic_dir(out, overwrite=True) as tmp_out:
        for case in CASES:
            examples = [str(e) for e in case_examples[case.name]]
            k = len(examples)
            say(f"synthesizing K={k} ({', '.join(case.examples)})")
            video = tmp_out / f"{case.name}.mp4"
            extra = {}
            if k > 1:
                extra = {"attention_maps": tmp_out / f"attention_k{k}.mp4"}
            res = synthesize(examples, driver, video, checkpoint=ckpt, retarget=False,
                             device=device, **extra)
            if k > 1:  # the side-by-side panel video for the richer case
                synthesize(examples, driver, tmp_out / "demo_side_by_side.mp4", checkpoint=ckpt,
                           retarget=False, side_by_side=True, device=device)
            say(f"scoring K={k} against the truth")
            report = evaluate_video(video, real=truth, driver=driver, keynet_dir=keynet_dir,
                                    fetch_weights=False)  # the demo never downloads
            results["cases"][case.name] = {
                "k": k, "examples": list(case.examples), "video": video.name,
                "frames": res.frames, "fps": res.fps,
                "synthesis_fps": round(res.throughput_fps, 2),
                "metrics": report.metrics, "skipped": report.skipped, "notes": report.notes}
        results["seconds"] = round(time.perf_counter() - t0, 2)
        (tmp_out / "metrics.json").write_text(json.dumps(results, indent=2, sort_keys=True))
    return results


def _is_demo(path: Path) -> bool:
    """A folder written by v2v demo (its metrics.json)."""
    try:
        obj = json.loads((path / "metrics.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(obj, dict) and obj.get("format") == DEMO_FORMAT
