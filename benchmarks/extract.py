"""Extraction speed: frames/s of `v2v extract` for pose and face, 1 and 2 workers.

    python benchmarks/extract.py [--copies 1] [--json out.json] [--kinds pose,face,pose-lite]

Clips: tests/data/carphone_pristine.mp4 (176x144, 120 frames) and a 256x256 version of it
(resized, 120 frames). Each measurement extracts `copies` copies of one clip (separate inputs)
with `extract_many(..., workers=W)`, as `v2v extract --workers W` does: with one input, W
detector threads share its frames; with several, inputs run side by side (threads, or
`--parallel processes`). Reported:

  wall fps     all frames / wall-clock seconds, including process start-up and model loading
  loop fps     all frames / summed per-clip frame-loop seconds (meta.json "processing"):
               steady-state speed per worker, model start-up excluded
  detect fps   the model alone on decoded frames in memory (no decode, render or PNG writes)
  cpu ms/frame CPU time (user + system, all threads and worker processes) of the whole run
               per frame, model start-up included: what a frame costs however busy the
               shared machine is; 1000 / it is roughly the frames/s of one free core

`pose` is mediapipe Holistic (body + hands + face mesh) + selfie segmentation (the default of
`v2v extract --kind pose`); `pose-lite` is mediapipe Pose + selfie segmentation (no hands or
face), reported for comparison. The machine is shared: the load average is printed with the
results; numbers on a busy machine are lower bounds.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
CARPHONE = ROOT / "tests" / "data" / "carphone_pristine.mp4"
TARGETS = {"pose": 40.0, "face": 150.0}


def make_256(src: Path, out: Path) -> Path:
    import cv2

    from v2vtool.io.video import VideoWriter, open_video
    with open_video(src) as r, VideoWriter(out, r.fps) as w:
        for f in r:
            w.write(cv2.resize(f, (256, 256), interpolation=cv2.INTER_AREA))
    return out


def detect_fps(kind: str, clip: Path) -> float:
    from v2vtool.io.video import read_frames
    from v2vtool.semantics.kinds import get_extractor
    frames = read_frames(clip)
    opts = {"hands_face": False} if kind == "pose-lite" else {}
    with get_extractor("pose" if kind.startswith("pose") else kind, **opts) as ex:
        ex.detect(frames[0])
        t = time.perf_counter()
        for f in frames:
            ex.detect(f)
        return len(frames) / (time.perf_counter() - t)


def _cpu_seconds() -> float:
    """User + system CPU time of this process (all threads) and its finished children."""
    import resource
    tot = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        tot += r.ru_utime + r.ru_stime
    return tot


def run_extract(kind: str, clip: Path, copies: int, workers: int, work: Path,
                parallel: str = "threads") -> dict:
    from v2vtool.semantics.extract import extract_many
    src = work / f"src-{kind}-{clip.stem}-{workers}"
    out = work / f"out-{kind}-{clip.stem}-{workers}"
    src.mkdir()
    inputs = []
    for i in range(copies):
        p = src / f"{clip.stem}-{i}{clip.suffix}"
        shutil.copyfile(clip, p)
        inputs.append(p)
    options = {"hands_face": False} if kind == "pose-lite" else None
    cpu0 = _cpu_seconds()
    t = time.perf_counter()
    results = extract_many(inputs, out, "pose" if kind == "pose-lite" else kind,
                           workers=workers, extractor_options=options, parallel=parallel)
    wall = time.perf_counter() - t
    cpu = _cpu_seconds() - cpu0
    metas = [json.loads((Path(c) / "meta.json").read_text()) for _, c, err in results if c]
    errors = [err for _, _, err in results if err]
    if errors:
        raise RuntimeError(errors[0])
    frames = sum(m["frame_count"] for m in metas)
    loop = sum(m["processing"]["seconds"] for m in metas)
    shutil.rmtree(out)
    shutil.rmtree(src)
    return {"frames": frames, "wall_s": round(wall, 3), "wall_fps": round(frames / wall, 1),
            "loop_fps": round(frames / loop, 1), "cpu_ms_per_frame": round(1000 * cpu / frames, 2),
            "detection_rate": round(sum(m["detection_rate"] for m in metas) / len(metas), 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=1,
                    help="copies of the clip per measurement (separate inputs)")
    ap.add_argument("--kinds", default="pose,face,pose-lite")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--parallel", default="threads", choices=("threads", "processes"))
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)
    console = Console(stderr=True, width=max(100, Console(stderr=True).width))
    kinds = args.kinds.split(",")
    workers = [int(w) for w in args.workers.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clips = [CARPHONE, make_256(CARPHONE, work / "carphone256.mp4")]
        for kind in kinds:
            for clip in clips:
                det = round(detect_fps(kind, clip), 1)
                for w in workers:
                    console.print(f"[dim]{kind} {clip.name} workers={w} ...[/]")
                    r = run_extract(kind, clip, args.copies, w, work, args.parallel)
                    size = "176x144" if clip == CARPHONE else "256x256"
                    rows.append({"kind": kind, "clip": clip.name, "size": size, "workers": w,
                                 "parallel": args.parallel,
                                 "copies": args.copies, "detect_fps": det, **r,
                                 "target_fps": TARGETS.get(kind)})
    load = os.getloadavg()
    result = {"benchmark": "extract", "cpu_count": os.cpu_count(), "loadavg": load,
              "machine": platform.processor() or platform.machine(),
              "python": sys.version.split()[0], "rows": rows}
    table = Table(title=f"v2v extract speed (frames/s; {os.cpu_count()} CPUs, "
                        f"load {load[0]:.1f}/{load[1]:.1f})")
    for col in ("kind", "clip", "workers", "frames", "wall fps", "loop fps", "detect fps",
                "cpu ms/frame", "target", "det. rate"):
        table.add_column(col, justify="left" if col in ("kind", "clip") else "right")
    for r in rows:
        target = r["target_fps"]
        ok = "" if target is None else ("[green]" if r["wall_fps"] >= target else "[red]")
        table.add_row(r["kind"], r["size"], str(r["workers"]), str(r["frames"]),
                      f"{ok}{r['wall_fps']}", str(r["loop_fps"]), str(r["detect_fps"]),
                      str(r["cpu_ms_per_frame"]),
                      "-" if target is None else str(target), f"{r['detection_rate']:.0%}")
    console.print(table)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
