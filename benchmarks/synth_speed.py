"""Frames per second of `v2v data synth` (whole pipeline, files included) and where time goes.

    python benchmarks/synth_speed.py [--size 128] [--identities 10] [--frames 60]
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from v2vtool.data.synth import generate_dataset, render_background, sample_identity
from v2vtool.data.synth.motion import dance_clip, sample_dance
from v2vtool.data.synth.rasterize import Renderer
from v2vtool.semantics.render import render_pose


def components(size: int, frames: int = 200) -> dict[str, float]:
    """CPU milliseconds per frame of each stage, in memory (PNG encoded to a buffer)."""
    app = sample_identity(np.random.default_rng([0, 1]))
    dance = sample_dance(np.random.default_rng([0, 1, 0, 1]), frames)
    out = {}
    t = time.process_time()
    people, _ = dance_clip(app, dance, frames, size)
    out["motion + keypoints"] = time.process_time() - t
    renderer = Renderer(app, size, render_background(app, size))
    t = time.process_time()
    pics = [renderer.render(p) for p in people]
    out["rasterize frame + mask"] = time.process_time() - t
    t = time.process_time()
    sems = [render_pose([p], (size, size)) for p in people]
    out["render_pose (semantic map)"] = time.process_time() - t
    t = time.process_time()
    for (img, mask), sem in zip(pics, sems):
        for arr in (img, mask, sem):
            Image.fromarray(arr).save(io.BytesIO(), format="png", compress_level=1)
    out["3 PNG encodes (compress_level=1)"] = time.process_time() - t
    return {k: v / frames * 1e3 for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--identities", type=int, default=10)
    ap.add_argument("--clips", type=int, default=2)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    for name, ms in components(args.size).items():
        print(f"{name:34s} {ms:6.2f} ms/frame")
    tmp = Path(tempfile.mkdtemp())
    try:
        t, c = time.perf_counter(), time.process_time()
        generate_dataset(tmp / "ds", args.identities, args.clips, args.frames, args.size,
                         seed=0, test_identities=1, workers=args.workers)
        dt, dc = time.perf_counter() - t, time.process_time() - c
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = args.identities * args.clips * args.frames
    cpu = (f"; main-process CPU {dc:.2f} s = {n / dc:.0f} frames/s per core"
           if args.workers <= 1 else "")
    print(f"generate_dataset {n} frames at {args.size}x{args.size}: {dt:.2f} s wall = "
          f"{n / dt:.0f} frames/s (files written, {args.workers} process(es)){cpu}; "
          f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

if __name__ == "__main__":
    main()
