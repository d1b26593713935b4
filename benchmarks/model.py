"""Generator benchmark: parameters, GFLOPs per frame, ms/frame of ``step`` after ``prepare``.

    python benchmarks/model.py                       # tiny@128 + pose-256, batch 1 and 8, K 1
    python benchmarks/model.py --presets tiny --batches 1 --ks 1,4 --iters 50
    python benchmarks/model.py --device cuda --amp bf16 --json out.json

A "frame" is one generated image; a step at batch B generates B frames. The timed step is the
steady state of synthesis: after ``prepare`` (examples encoded once), with a previous frame
(temporal flow + warp), warp_ref as the preset says, under ``torch.inference_mode`` and
``torch.nn.utils.parametrize.cached()`` (spectral-normalised weights computed once).
Also reported: CPU time per frame (``time.process_time``), which other processes sharing the
cores do not inflate. FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` on one step (convolutions, matmuls and
attention; elementwise ops are not counted), so "achieved GFLOP/s" = counted FLOPs / time.
Human table on stderr (rich), JSON on stdout or ``--json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.utils.parametrize as parametrize
from rich.console import Console
from rich.table import Table
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from v2vtool.config import preset
from v2vtool.models.build import build_generator

console = Console(stderr=True, width=None if sys.stderr.isatty() else 150)

# iterations (warm-up, timed) per (preset, batch); pose-256 is a GPU config: few on CPU
ITERS_CPU = {("tiny", 1): (5, 40), ("tiny", 8): (2, 8), ("pose-256", 1): (1, 2), ("pose-256", 8): (0, 1)}


def _cpu_flash_flops(q, k, v, *args, out_shape=None, **kwargs) -> int:
    """FlopCounterMode has no formula for the CPU flash-attention op (E_A): count it like SDPA."""
    return sdpa_flop_count(q, k, v)


def _counter() -> FlopCounterMode:
    mapping = {}
    op = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if op is not None:
        mapping[op] = _cpu_flash_flops
    return FlopCounterMode(display=False, custom_mapping=mapping)


def _inputs(cfg, batch: int, k: int, device, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    c, h, w = cfg.semantic_nc, cfg.height, cfg.width
    ex = torch.rand(batch, k, 3, h, w, generator=g) * 2 - 1
    es = torch.rand(batch, k, c, h, w, generator=g)
    sem = torch.rand(batch, c, h, w, generator=g)
    prev = torch.rand(batch, cfg.n_prev_frames, 3, h, w, generator=g) * 2 - 1
    prev_sem = torch.rand(batch, cfg.n_prev_frames, c, h, w, generator=g)
    return [t.to(device) for t in (ex, es, sem, prev, prev_sem)]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(name: str, batch: int, k: int, device: torch.device, amp: str,
            iters: tuple[int, int] | None = None, size: tuple[int, int] | None = None) -> dict:
    cfg = preset(name).generator
    if size is not None:
        cfg = replace(cfg, width=size[0], height=size[1])
    torch.manual_seed(0)
    gen = build_generator(cfg).to(device).eval()
    params = sum(p.numel() for p in gen.parameters())
    ex, es, sem, prev, prev_sem = _inputs(cfg, batch, k, device)
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16) if amp == "bf16"
                else torch.autocast(device.type, enabled=False))
    with torch.no_grad(), autocast:  # FlopCounterMode does not work under inference_mode
        state = gen.prepare(ex, es)
        counter = _counter()
        with counter:
            gen.step(state, sem, prev, prev_sem)
        prep_counter = _counter()
        with prep_counter:
            gen.prepare(ex, es)
    step_flops = counter.get_total_flops()
    if iters is None:
        iters = ITERS_CPU.get((name, batch), (2, 5)) if device.type == "cpu" else (10, 50)
    warmup, timed = iters
    with torch.inference_mode(), autocast, parametrize.cached():
        t0 = time.perf_counter()
        state = gen.prepare(ex, es)
        _sync(device)
        prepare_s = time.perf_counter() - t0
        out = None
        for _ in range(warmup):
            out = gen.step(state, sem, prev, prev_sem)
        _sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(timed):
            out = gen.step(state, sem, prev, prev_sem)
        _sync(device)
        elapsed = time.perf_counter() - t0
        cpu_s = time.process_time() - c0
    assert out is not None and torch.isfinite(out.image.float()).all()
    step_s = elapsed / timed
    return {
        "preset": name, "size": [cfg.width, cfg.height], "batch": batch, "k": k,
        "device": str(device), "amp": amp, "params_m": params / 1e6,
        "gflops_per_frame": step_flops / batch / 1e9,
        "prepare_gflops_per_video": prep_counter.get_total_flops() / batch / 1e9,
        "prepare_ms": prepare_s * 1e3, "ms_per_step": step_s * 1e3,
        "ms_per_frame": step_s * 1e3 / batch, "fps": batch / step_s,
        "achieved_gflops_per_s": step_flops / step_s / 1e9,
        # CPU time of this process per frame: robust to other processes sharing the cores
        # (equals wall time x threads when the threads never wait)
        "cpu_ms_per_frame": cpu_s / timed * 1e3 / batch,
        "warmup_steps": warmup, "timed_steps": timed,
        "composition": cfg.composition, "warp_ref": cfg.warp_ref, "appearance": cfg.appearance,
    }


def _table(rows: list[dict]) -> Table:
    t = Table(title="generator step after prepare (steady state, with a previous frame)")
    for col in ("preset", "size", "device", "B", "K", "params (M)", "GFLOP/frame", "ms/frame",
                "frames/s", "GFLOP/s", "CPU ms/frame", "prepare ms", "steps"):
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(r["preset"], f"{r['size'][0]}x{r['size'][1]}", f"{r['device']} {r['amp']}",
                  str(r["batch"]), str(r["k"]), f"{r['params_m']:.2f}",
                  f"{r['gflops_per_frame']:.2f}", f"{r['ms_per_frame']:.1f}", f"{r['fps']:.1f}",
                  f"{r['achieved_gflops_per_s']:.1f}", f"{r['cpu_ms_per_frame']:.1f}",
                  f"{r['prepare_ms']:.0f}",
                  str(r["timed_steps"]))
    return t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="tiny,pose-256")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--ks", default="1", help="numbers of examples K (K > 1: attention per step)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--amp", default="none", choices=["none", "bf16"])
    ap.add_argument("--iters", type=int, default=None, help="timed steps (default: per preset)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--json", type=Path, default=None, help="write the results here (else stdout)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rows = []
    for name in args.presets.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            for k in (int(x) for x in args.ks.split(",")):
                iters = None if args.iters is None else (max(1, args.iters // 10), args.iters)
                console.print(f"[dim]measuring {name} batch {batch} K {k} on {device}...[/]")
                rows.append(measure(name, batch, k, device, args.amp, iters))
    console.print(_table(rows))
    result = {"benchmark": "model", "torch": torch.__version__, "threads": torch.get_num_threads(),
              "cpu": platform.processor() or platform.machine(), "python": platform.python_version(),
              "load_average_1min_at_end": os.getloadavg()[0],
              "results": rows}
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
