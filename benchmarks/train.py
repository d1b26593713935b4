"""Training throughput on this machine: it/s, samples/s, peak RSS (and peak GPU memory), and
the data pipeline's cost (sample loading, DIS flow on the fly vs loading a cached flow).

    python benchmarks/train.py [--data DIR] [--size 64] [--steps 16] [--batch 4] [--threads N]
                               [--json OUT]
    python benchmarks/train.py --preset pose-256 --device cuda --amp bf16 --batch 4 --steps 12

--preset tiny (default) trains at --size; the other presets train at their own size (pose:
procedural dancers; face: procedural moving face sketches). --amp / --compile set train.amp /
train.compile. Without --data a small procedural set is generated in a temp dir. Prints one
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


def face_dataset(out: Path, clips: int = 4, frames: int = 24, size: int = 256) -> Path:
    """Procedural face clips (a landmark ellipse that moves and talks) for the face presets."""
    from v2vtool.io.clipdir import ClipWriter
    from v2vtool.io.keypoints import Person
    from v2vtool.semantics.render import render_face

    ang = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    for c in range(clips):
        rng = np.random.default_rng(c)
        color = rng.integers(60, 255, 3)
        with ClipWriter(out / f"face{c}", "face", fps=25) as w:
            for i in range(frames):
                t = i * 0.3 + c
                face = np.zeros((70, 3), np.float32)
                r = size * 0.28 * (1 + 0.05 * np.sin(t))
                face[:68, 0] = size / 2 + 0.1 * size * np.sin(t / 2) + r * np.cos(ang) * 0.8
                face[:68, 1] = size / 2 + r * np.sin(ang) * (1 + 0.1 * np.sin(3 * t) * (ang > 3))
                face[:68, 2] = 0.9
                person = [Person(face=face)]
                frame = np.full((size, size, 3), 30, np.uint8)
                frame[render_face(person, (size, size)) > 0] = color
                w.add(frame, keypoints=person)
            w.close(identity=str(c))
    return out


def _train_speed(data: Path, size: int, steps: int, batch: int, threads: int,
                 name: str = "tiny", device: str = "cpu", amp: str = "none",
                 compile: bool = False, overrides: list[str] | None = None) -> dict:
    import torch

    from v2vtool.config import apply_overrides, preset
    from v2vtool.training import train
    from v2vtool.training.runlog import read_metrics

    half = max(2, steps // 2)
    sizes = [f"generator.height={size}", f"generator.width={size}"] if name == "tiny" else []
    cfg = apply_overrides(preset(name), sizes + [
        f"train.batch_size={batch}", f"train.amp={amp}", f"train.compile={compile}",
        "train.log_every=1", "train.sample_every=0", "train.val_every=0",
        f"train.checkpoint_every={steps}", f"train.single_frame_steps={half}",
        f"train.threads={threads}", "train.k_max=2",
        f"train.seq_double_every={steps}", "train.seq_len_start=4", *(overrides or [])])
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        train([data], Path(tmp) / "run", cfg, steps=steps, device=device, progress=False)
        wall = time.perf_counter() - t
        recs = read_metrics(Path(tmp) / "run", "train")
        events = read_metrics(Path(tmp) / "run", "event")
    peak_gpu = (torch.cuda.max_memory_allocated() / 2 ** 20 if device.startswith("cuda")
                else None)
    compile_s = next((e["first_step_seconds"] for e in events if e.get("event") == "compile"),
                     None)
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
    w, h = cfg.generator.width, cfg.generator.height
    return {"preset": name, "steps": steps, "batch": batch, "size": size if w == h else None,
            "width": w, "height": h, "device": device, "amp": amp, "compile": compile,
            "compile_first_step_s": compile_s, "peak_gpu_memory_mb": peak_gpu,
            "threads": threads or "default", "wall_s": round(wall, 2),
            "by_seq_len": speeds}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=0, help="train.threads (0 = torch default)")
    ap.add_argument("--preset", default="tiny", help="tiny, pose-256, face-256")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N")
    ap.add_argument("--amp", default="none", choices=["none", "bf16", "auto"], help="train.amp")
    ap.add_argument("--compile", action="store_true", help="train.compile")
    ap.add_argument("--set", action="append", default=[],
                    help="extra config override (repeatable), e.g. generator.ngf=8")
    ap.add_argument("--skip-data-costs", action="store_true",
                    help="only the training speed (not the flow / sample loading costs)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    import torch

    from v2vtool.config import preset

    kind = preset(args.preset).generator.kind
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None and kind == "face":
            data = face_dataset(Path(tmp) / "faces")
        elif data is None:
            from v2vtool.data.synth import generate_dataset

            size = args.size if args.preset == "tiny" else 256
            data = generate_dataset(Path(tmp) / "synth", identities=6, clips_per_identity=2,
                                    frames=24, size=size, seed=0, test_identities=2)
        result = {"torch_threads": torch.get_num_threads()}
        if not args.skip_data_costs and args.preset == "tiny":
            result.update(flow=_flow_costs(), data=_data_costs(data, args.size))
        result["train"] = _train_speed(data, args.size, args.steps, args.batch, args.threads,
                                       args.preset, args.device, args.amp, args.compile,
                                       args.set)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    for k, v in result["train"]["by_seq_len"].items():
        print(f"{args.preset} {args.device} {args.amp} batch {args.batch} {k}: {v['it_s']} it/s, "
              f"{v['samples_s']} samples/s", file=sys.stderr)
    print(f"peak RSS {result['peak_rss_mb']} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
