"""Extraction speed: frames/s and CPU ms/frame of `v2v extract`, pose and face, per frame size.

    python benchmarks/extract.py [--kinds pose,face] [--sizes 176x144,256x256,1920x1080]
                                 [--workers 1] [--frames 120] [--parts] [--quality]
                                 [--json out.json]

Clips: tests/data/carphone_pristine.mp4 (a real talking head, 176x144, 120 frames) and copies
made in a temp dir: resized to 256x256 (stretched, as the issue measured), or scaled to the
height and pillarboxed for 16:9 sizes (1920x1080: the person is 1320 px wide). Everything runs
on one thread of detection (OMP_NUM_THREADS=1; `--workers 2` adds the detector-thread rows).
Per kind x size x workers:

  clip fps        frames / frame-loop seconds of `extract_clip` (decode -> detect -> smooth ->
                  render -> PNG + JSON writes; decoding and PNG encoding on their own threads,
                  so on 2 free cores this is more than one core does)
                  ("wall_fps" in the JSON: the same over the whole call, for benchmarks/run.py)
  clip cpu        CPU ms/frame (user + system, all threads) of that loop, model start-up
                  excluded (workers=1; with 2 workers start-up is included); "1-core fps" =
                  1000 / it: what one free core does, however busy this machine is
  semantics cpu   CPU ms/frame of decode + detect + smooth + render without writing the clip
                  dir (at 1920x1080, writing the PNG frames costs more than detecting)
  detect cpu      the detector alone on decoded frames in memory
  today's detect  (pose) today's detector on the same frames: mediapipe Holistic +
                  selfie segmentation, as extract ran before this change

Targets (issue 14): pose >= 40 fps at 256x256 and >= 20 fps at 1920x1080, face >= 150 fps at
256x256, on one core: compared against "1-core fps". The load average is printed with the
results; on a busy machine CPU times grow too (shared caches and cores).

--parts adds the cost of each stage (decode, resize, each mediapipe graph part, PNG writers,
render, smoothing); --quality compares the fast pose path with today's
(benchmarks/extract_quality.py).
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CARPHONE = ROOT / "tests" / "data" / "carphone_pristine.mp4"
TARGETS = {("pose", "256x256"): 40.0, ("pose", "1920x1080"): 20.0, ("face", "256x256"): 150.0}


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads) and its finished children."""
    tot = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        tot += r.ru_utime + r.ru_stime
    return tot


def make_clip(size: str, work: Path, frames: int) -> Path:
    """carphone at `size` (WxH): native, stretched to a square, or scaled + pillarboxed."""
    import cv2
    import numpy as np

    from v2vtool.io.video import VideoWriter, open_video
    w, h = (int(v) for v in size.split("x"))
    with open_video(CARPHONE) as r:
        if (w, h) == r.size and frames <= r.frame_count:
            return CARPHONE
        out = work / f"carphone_{size}.mp4"
        source = list(r)
        with VideoWriter(out, r.fps, preset="veryfast") as wr:
            for f in itertools.islice(itertools.cycle(source), frames):
                if w == h or abs(w / h - f.shape[1] / f.shape[0]) < 0.05:
                    wr.write(cv2.resize(f, (w, h), interpolation=cv2.INTER_CUBIC
                                        if w > f.shape[1] else cv2.INTER_AREA))
                    continue
                sw = round(f.shape[1] * h / f.shape[0])
                scaled = cv2.resize(f, (sw, h), interpolation=cv2.INTER_CUBIC)
                canvas = np.zeros((h, w, 3), np.uint8)
                x0 = (w - sw) // 2
                canvas[:, x0:x0 + sw] = scaled
                wr.write(canvas)
    return out


def build(kind: str):
    from v2vtool.semantics.kinds import get_extractor
    return get_extractor(kind)


def clip_loop(kind: str, clip: Path, work: Path, workers: int) -> dict:
    """extract_clip on one clip: loop fps, CPU ms/frame (start-up excluded for 1 worker)."""
    from v2vtool.semantics.extract import extract_clip
    out = work / f"out-{kind}-{clip.stem}-{workers}"
    ex = build(kind) if workers == 1 else None
    t_wall = time.perf_counter()
    cpu0 = cpu_seconds()
    try:
        path = extract_clip(clip, out, kind, extractor=ex, threads=workers)
    finally:
        if ex is not None:
            ex.close()
    cpu = cpu_seconds() - cpu0
    wall = time.perf_counter() - t_wall
    meta = json.loads((Path(path) / "meta.json").read_text())
    n = meta["frame_count"]
    shutil.rmtree(out)
    return {"frames": n, "wall_fps": round(n / wall, 1),
            "loop_fps": round(n / meta["processing"]["seconds"], 1),
            "cpu_ms_per_frame": round(1000 * cpu / n, 2),
            "one_core_fps": round(n / cpu, 1),
            "cpu_includes_startup": workers != 1,
            "detection_rate": round(meta["detection_rate"], 3)}


def semantics_cpu(kind: str, clip: Path) -> float:
    """CPU ms/frame of decode (prefetched) + detect + smooth + render, nothing written."""
    from v2vtool.io.prefetch import Prefetch
    from v2vtool.io.video import open_video
    from v2vtool.semantics.smoothing import smooth_keypoints
    with build(kind) as ex, open_video(clip) as reader:
        n = 0
        cpu0 = cpu_seconds()
        with Prefetch(reader) as frames:
            found = ((ex.detect(f)[0], f) for f in frames)
            for keypoints, frame in smooth_keypoints(found, reader.size[1], reader.fps):
                ex.render(keypoints, (frame.shape[1], frame.shape[0]))
                n += 1
        return 1000 * (cpu_seconds() - cpu0) / n


def detect_only(kind: str, frames: list, reference: bool = False) -> tuple[float, float]:
    """(CPU ms/frame, wall fps) of the detector alone on frames in memory."""
    if reference:
        from extract_quality import ReferencePose
        ex = ReferencePose()
    else:
        ex = build(kind)
    with ex:
        ex.detect(frames[0])
        t, cpu0 = time.perf_counter(), cpu_seconds()
        for f in frames:
            ex.detect(f)
        cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - t
    return 1000 * cpu / len(frames), len(frames) / wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kinds", default="pose,face")
    ap.add_argument("--sizes", default="176x144,256x256,1920x1080")
    ap.add_argument("--workers", default="1", help="detector threads per clip, e.g. 1,2")
    ap.add_argument("--frames", type=int, default=120, help="frames per clip")
    ap.add_argument("--copies", type=int, default=1, help=argparse.SUPPRESS)  # old runners
    ap.add_argument("--no-reference", action="store_true",
                    help="skip today's pose detector (Holistic + selfie segmentation)")
    ap.add_argument("--parts", action="store_true", help="also time each stage")
    ap.add_argument("--quality", action="store_true",
                    help="also compare fast and today's pose keypoints (extract_quality.py)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    console = Console(stderr=True, width=max(110, Console(stderr=True).width))
    kinds, sizes = args.kinds.split(","), args.sizes.split(",")
    workers = [int(w) for w in args.workers.split(",")]
    rows, parts, quality = [], {}, None
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clips = {s: make_clip(s, work, args.frames) for s in sizes}
        from v2vtool.io.video import read_frames
        for size, clip in clips.items():
            frames = read_frames(clip, 60)
            for kind in kinds:
                console.print(f"[dim]{kind} {size} ...[/]")
                det_cpu, det_fps = detect_only(kind, frames)
                ref = (detect_only(kind, frames, reference=True)[0]
                       if kind == "pose" and not args.no_reference else None)
                sem = semantics_cpu(kind, clip)
                for w in workers:
                    r = clip_loop(kind, clip, work, w)
                    rows.append({"kind": kind, "size": size, "clip": clip.name, "workers": w,
                                 **r, "semantics_cpu_ms": round(sem, 2),
                                 "semantics_one_core_fps": round(1000 / sem, 1),
                                 "detect_cpu_ms": round(det_cpu, 2),
                                 "detect_fps": round(det_fps, 1),
                                 "reference_detect_cpu_ms": None if ref is None else round(ref, 2),
                                 "target_fps": TARGETS.get((kind, size))})
            if args.parts:
                from extract_parts import stage_costs
                parts[size] = stage_costs(frames, kinds, clip)
        if args.quality:
            from extract_quality import compare
            quality = compare(work, console)
    load = os.getloadavg()
    result = {"benchmark": "extract", "cpu_count": os.cpu_count(), "loadavg_start": load0,
              "loadavg": load, "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
              "machine": platform.processor() or platform.machine(),
              "python": sys.version.split()[0], "rows": rows}
    if parts:
        result["parts_cpu_ms"] = parts
    if quality is not None:
        result["quality"] = quality
    _print(console, rows, parts, load0, load)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


def _print(console: Console, rows: list, parts: dict, load0, load) -> None:
    table = Table(title=f"v2v extract, 1 detection thread per worker ({os.cpu_count()} CPUs; "
                        f"load {load0[0]:.1f} at start, {load[0]:.1f} at end)")
    for col in ("kind", "size", "workers", "clip fps", "clip cpu ms", "1-core fps",
                "semantics cpu ms", "sem. 1-core fps", "detect cpu ms", "today's detect ms",
                "target", "det. rate"):
        table.add_column(col, justify="left" if col in ("kind", "size") else "right")
    for r in rows:
        target = r["target_fps"]

        def mark(v: float) -> str:
            return str(v) if target is None else f"[{'green' if v >= target else 'red'}]{v}"
        ref = r["reference_detect_cpu_ms"]
        table.add_row(r["kind"], r["size"], str(r["workers"]), str(r["loop_fps"]),
                      str(r["cpu_ms_per_frame"]) + ("*" if r["cpu_includes_startup"] else ""),
                      mark(r["one_core_fps"]), str(r["semantics_cpu_ms"]),
                      mark(r["semantics_one_core_fps"]), str(r["detect_cpu_ms"]),
                      "-" if ref is None else str(ref), "-" if target is None else str(target),
                      f"{r['detection_rate']:.0%}")
    console.print(table)
    for size, costs in parts.items():
        t = Table(title=f"stage costs at {size} (CPU ms/frame)")
        t.add_column("stage")
        t.add_column("ms", justify="right")
        for name, ms in costs.items():
            t.add_row(name, f"{ms:.2f}")
        console.print(t)


if __name__ == "__main__":
    raise SystemExit(main())
