"""Training throughput of the `tiny` preset on this machine: it/s, samples/s, peak RSS, and
the data pipeline's cost (sample loading, DIS flow on the fly vs loading a cached flow).

    python benchmarks/train.py [--data DIR] [--size 64] [--steps 16] [--batch 4] [--threads N]
                               [--json OUT]

Without --data a small procedural set (6 identities) is generated in a temp dir. Prints one
JSON object on stdout (human summary on stderr). Numbers are measured, never estimated.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _flow_costs(repeats: int = 20) -> dict:
    import cv2

    from v2vtool.data.flow import FlowEstimator

    rng = np.random.default_rng(0)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for w, h in ((64, 64), (128, 128), (256, 512)):
            a = cv2.resize((rng.random((h // 8, w // 8, 3)) * 255).astype(np.uint8), (w, h),
                           interpolation=cv2.INTER_CUBIC)
            b = np.roll(a, 2, axis=1)
            est = FlowEstimator()
            est(b, a)
            t = time.perf_counter()
            for _ in range(repeats):
                flow, _ = est(b, a)
            dis_ms = (time.perf_counter() - t) / repeats * 1e3
            path = Path(tmp) / "f.npy"
            np.save(path, flow.astype(np.float16))
            t = time.perf_counter()
            for _ in range(repeats):
                np.load(path).astype(np.float32)
            load_ms = (time.perf_counter() - t) / repeats * 1e3
            out[f"{w}x{h}"] = {"dis_with_confidence_ms": round(dis_ms, 3),
                               "cached_npy_load_ms": round(load_ms, 3)}
    return out


def _data_costs(data: Path, size: int, repeats: int = 12) -> dict:
    from v2vtool.config import DataConfig, GeneratorConfig
    from v2vtool.data.dataset import FewShotDataset, SampleKey, find_clips

    entries = find_clips([data], "train")
    g = GeneratorConfig(height=size, width=size)
    res = {}
    for flow in (False, True):
        ds = FewShotDataset(entries, g, DataConfig(), augment=True, with_flow=flow)
        ds[SampleKey(0, 2, 8, 0)]
        t = time.perf_counter()
        for i in range(repeats):
            ds[SampleKey(i % len(entries), 2, 8, i)]
        res["with_flow" if flow else "without_flow"] = round(
            (time.perf_counter() - t) / repeats * 1e3, 2)
    return {"sample_K2_T8_ms": res}


def _train_speed(data: Path, size: int, steps: int, batch: int, threads: int) -> dict:
    from v2vtool.config import apply_overrides, preset
    from v2vtool.training import train
    from v2vtool.training.runlog import read_metrics

    half = max(2, steps // 2)
    cfg = apply_overrides(preset("tiny"), [
        f"generator.height={size}", f"generator.width={size}", f"train.batch_size={batch}",
        "train.log_every=1", "train.sample_every=0", "train.val_every=0",
        f"train.checkpoint_every={steps}", f"train.single_frame_steps={half}",
        f"train.threads={threads}",
        f"train.seq_double_every={steps}", "train.seq_len_start=4"])
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        train([data], Path(tmp) / "run", cfg, steps=steps, device="cpu", progress=False)
        wall = time.perf_counter() - t
        recs = read_metrics(Path(tmp) / "run", "train")
    by_t: dict[int, list[float]] = {}
    prev = None
    for r in recs:  # per-step time from consecutive record timestamps (skip the first)
        if prev is not None:
            by_t.setdefault(r["seq_len"], []).append(r["time"] - prev)
        prev = r["time"]
    speeds = {}
    for t_len, dts in sorted(by_t.items()):
        dts = dts[1:] if len(dts) > 2 else dts  # drop the first step of a phase (warm-up)
        sec = float(np.median(dts))
        speeds[f"T={t_len}"] = {"it_s": round(1 / sec, 3), "samples_s": round(batch / sec, 3),
                                "frames_s": round(batch * t_len / sec, 3), "steps": len(dts)}
    return {"steps": steps, "batch": batch, "size": size, "threads": threads or "default",
            "wall_s": round(wall, 2),
            "by_seq_len": speeds}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=0, help="train.threads (0 = torch default)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            from v2vtool.data.synth import generate_dataset

            data = generate_dataset(Path(tmp) / "synth", identities=6, clips_per_identity=2,
                                    frames=24, size=args.size, seed=0, test_identities=2)
        result = {"torch_threads": torch.get_num_threads(), "flow": _flow_costs(),
                  "data": _data_costs(data, args.size),
                  "train": _train_speed(data, args.size, args.steps, args.batch,
                                           args.threads)}
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    for k, v in result["train"]["by_seq_len"].items():
        print(f"tiny {args.size}px batch {args.batch} {k}: {v['it_s']} it/s, "
              f"{v['samples_s']} samples/s", file=sys.stderr)
    print(f"peak RSS {result['peak_rss_mb']} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
