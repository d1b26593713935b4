"""Generator benchmark: parameters, GFLOPs per frame, ms/frame of ``step`` after ``prepare``.

    python benchmarks/model.py                       # tiny@128 + pose-256, batch 1 and 8, K 1
    python benchmarks/model.py --presets tiny --batches 1 --ks 1,4 --iters 50
    python benchmarks/model.py --modes plain,fp32,bf16,compiled --ks 1,4
    python benchmarks/model.py --device cuda --modes bf16 --json out.json

A "frame" is one generated image; a step at batch B generates B frames. The timed step is the
steady state of synthesis: after ``prepare`` (examples encoded once), with the previous
generated frame fed back (temporal flow + warp of the step's own output, in its dtype),
warp_ref as the preset says, under ``torch.inference_mode``. Modes (``--modes``):

  plain     the training module as it is (fp32, NCHW), spectral norm computed once
            (``parametrize.cached()``): the reference point
  fp32      the fast path in fp32: inference copy (materialised weights), channels_last
  bf16      the fast path with bf16 autocast (+ bf16 weights); fp32 flow heads / warp / E_A
  auto      what ``v2v synthesize`` does by default (bf16 where native, else fp32)
  compiled  ``auto`` + ``torch.compile`` (first-call cost in ``first_step_s``)

Also reported: CPU time per frame (``time.process_time``), which other processes sharing the
cores do not inflate. FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` on one step (convolutions, matmuls and
attention; elementwise ops are not counted), so "achieved GFLOP/s" = counted FLOPs / time.
Human table on stderr (rich), JSON on stdout or ``--json``.
"""
from __future__ import annotations

import argparse
import contextlib
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
from v2vtool.models.fastpath import (compile_step, fast_path, inference_generator,
                                     tune_host_allocator)

MODES = ("plain", "fp32", "bf16", "auto", "compiled")

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


def _keypoints(cfg, batch: int, k: int, device: torch.device):
    """Example (B, K, J, 3), current and previous frame (B, J, 3) keypoints for the prior, or
    Nones when the model has no keypoint prior."""
    if not cfg.keypoint_prior:
        return None, None, None
    from v2vtool.data.synth.motion import sample_prior_keypoints

    kp = sample_prior_keypoints(cfg.kind, k + 2, cfg.width, cfg.height).to(device)
    return (kp[None, :k].expand(batch, -1, -1, -1), kp[None, k].expand(batch, -1, -1),
            kp[None, k + 1].expand(batch, -1, -1))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _mode(mode: str, device: torch.device, pixels: int):
    """The fast path of a mode (None: plain)."""
    if mode == "plain":
        return None
    amp = {"fp32": "none", "bf16": "bf16"}.get(mode, "auto")
    return fast_path(device, amp, "auto", compile=mode == "compiled", pixels=pixels)


def measure(name: str, batch: int, k: int, device: torch.device, amp: str = "none",
            iters: tuple[int, int] | None = None, size: tuple[int, int] | None = None,
            mode: str | None = None, overrides: list[str] | None = None) -> dict:
    """One row. ``mode`` (MODES) wins over ``amp``; ``amp`` alone keeps the plain module
    ("none") or the fast path with that amp ("bf16")."""
    from v2vtool.config import apply_overrides

    cfg = apply_overrides(preset(name), overrides or []).generator
    if size is not None:
        cfg = replace(cfg, width=size[0], height=size[1])
    if mode is None:
        mode = "plain" if amp == "none" else "bf16"
    if mode not in MODES:
        raise SystemExit(f"--modes: {mode!r} is not one of {', '.join(MODES)}")
    torch.manual_seed(0)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    gen = build_generator(cfg).to(device).eval()
    params = sum(p.numel() for p in gen.parameters())
    ex, es, sem, prev, prev_sem = _inputs(cfg, batch, k, device)
    ex_kp, kp, prev_kp = _keypoints(cfg, batch, k, device)
    with torch.no_grad():  # FlopCounterMode does not work under inference_mode
        state = gen.prepare(ex, es, ex_kp)
        counter = _counter()
        with counter:
            gen.step(state, sem, prev, prev_sem, kp, prev_kp)
        prep_counter = _counter()
        with prep_counter:
            gen.prepare(ex, es, ex_kp)
    step_flops = counter.get_total_flops()
    fast = _mode(mode, device, cfg.height * cfg.width)
    if fast is None:
        model, step, layout = gen, gen.step, (lambda x: x)
        autocast, weights_ctx = contextlib.nullcontext, parametrize.cached
    else:
        model = inference_generator(gen, fast)
        step = compile_step(model) if fast.compile else model.step
        layout, autocast, weights_ctx = fast.layout, fast.autocast, contextlib.nullcontext
    if iters is None:
        iters = ITERS_CPU.get((name, batch), (2, 5)) if device.type == "cpu" else (10, 50)
    warmup, timed = iters
    with torch.inference_mode(), weights_ctx():
        t0 = time.perf_counter()
        with autocast():
            state = model.prepare(layout(ex), layout(es), ex_kp)
        _sync(device)
        prepare_s = time.perf_counter() - t0
        sem, prev, prev_sem = layout(sem), layout(prev), layout(prev_sem)
        t0 = time.perf_counter()
        with autocast():
            out = step(state, sem, prev, prev_sem, kp, prev_kp)
        _sync(device)
        first_s = time.perf_counter() - t0
        for _ in range(warmup):
            with autocast():  # the previous output is fed back, in the step's own dtype
                out = step(state, sem, out.image[:, None], prev_sem, kp, prev_kp)
        _sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(timed):
            with autocast():
                out = step(state, sem, out.image[:, None], prev_sem, kp, prev_kp)
        _sync(device)
        elapsed = time.perf_counter() - t0
        cpu_s = time.process_time() - c0
    assert out is not None and torch.isfinite(out.image.float()).all()
    step_s = elapsed / timed
    return {
        "preset": name, "size": [cfg.width, cfg.height], "batch": batch, "k": k,
        "device": str(device), "mode": mode,
        "default_amp": fast_path(device, "auto", pixels=cfg.height * cfg.width).amp,
        "amp": "none" if fast is None else fast.amp,
        "channels_last": False if fast is None else fast.channels_last,
        "compiled": bool(fast is not None and fast.compile),
        "first_step_s": first_s,
        "attention_downsample": cfg.attention_downsample, "params_m": params / 1e6,
        "gflops_per_frame": step_flops / batch / 1e9,
        "prepare_gflops_per_video": prep_counter.get_total_flops() / batch / 1e9,
        "prepare_ms": prepare_s * 1e3, "ms_per_step": step_s * 1e3,
        "ms_per_frame": step_s * 1e3 / batch, "fps": batch / step_s,
        "achieved_gflops_per_s": step_flops / step_s / 1e9,
        # CPU time of this process per frame: robust to other processes sharing the cores
        # (equals wall time x threads when the threads never wait)
        "cpu_ms_per_frame": cpu_s / timed * 1e3 / batch,
        "warmup_steps": warmup, "timed_steps": timed,
        "peak_gpu_memory_mb": (torch.cuda.max_memory_allocated(device) / 2 ** 20
                               if device.type == "cuda" else None),
        "composition": cfg.composition, "warp_ref": cfg.warp_ref, "appearance": cfg.appearance,
    }


def k_scaling(rows: list[dict]) -> list[dict]:
    """Per (preset, batch, mode): ms/frame at each K > 1 over K = 1 (wall and CPU time)."""
    out = []
    for r in rows:
        if r["k"] == 1:
            continue
        base = next((b for b in rows if b["k"] == 1 and b["preset"] == r["preset"] and
                     b["batch"] == r["batch"] and b["mode"] == r["mode"]), None)
        if base is None:
            continue
        out.append({"preset": r["preset"], "batch": r["batch"], "mode": r["mode"], "k": r["k"],
                    "ratio": r["ms_per_frame"] / base["ms_per_frame"],
                    "cpu_ratio": r["cpu_ms_per_frame"] / base["cpu_ms_per_frame"]})
    return out


def _table(rows: list[dict]) -> Table:
    t = Table(title="generator step after prepare (steady state, previous output fed back)")
    for col in ("preset", "size", "device", "mode", "B", "K", "params (M)", "GFLOP/frame",
                "ms/frame", "frames/s", "GFLOP/s", "CPU ms/frame", "prepare ms", "1st step s",
                "steps"):
        t.add_column(col, justify="right")
    for r in rows:
        mode = r["mode"] + (f" ({r['amp']})" if r["mode"] in ("auto", "compiled") else "")
        t.add_row(r["preset"], f"{r['size'][0]}x{r['size'][1]}", r["device"], mode,
                  str(r["batch"]), str(r["k"]), f"{r['params_m']:.2f}",
                  f"{r['gflops_per_frame']:.2f}", f"{r['ms_per_frame']:.1f}", f"{r['fps']:.1f}",
                  f"{r['achieved_gflops_per_s']:.1f}", f"{r['cpu_ms_per_frame']:.1f}",
                  f"{r['prepare_ms']:.0f}", f"{r['first_step_s']:.1f}",
                  str(r["timed_steps"]))
    return t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="tiny,pose-256")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--ks", default="1", help="numbers of examples K (K > 1: attention per step)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--modes", default=None, help=f"comma-separated, of {', '.join(MODES)}")
    ap.add_argument("--amp", default=None, choices=["none", "bf16"],
                    help="shorthand: none = --modes plain, bf16 = --modes bf16")
    ap.add_argument("--set", action="append", default=[],
                    help="config override for every preset, e.g. generator.attention_downsample=3")
    ap.add_argument("--iters", type=int, default=None, help="timed steps (default: per preset)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--json", type=Path, default=None, help="write the results here (else stdout)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    tune_host_allocator()  # as `v2v synthesize` does
    device = torch.device(args.device)
    modes = (args.modes.split(",") if args.modes else
             ["bf16" if args.amp == "bf16" else "plain"])
    rows = []
    for name in args.presets.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            for mode in modes:
                for k in (int(x) for x in args.ks.split(",")):
                    iters = None if args.iters is None else (max(1, args.iters // 10), args.iters)
                    console.print(f"[dim]measuring {name} batch {batch} K {k} {mode} on "
                                  f"{device}...[/]")
                    rows.append(measure(name, batch, k, device, iters=iters, mode=mode,
                                        overrides=args.set))
    console.print(_table(rows))
    scaling = k_scaling(rows)
    for r in scaling:
        console.print(f"K-scaling {r['preset']} B{r['batch']} {r['mode']}: K={r['k']} / K=1 "
                      f"per frame = {r['ratio']:.2f} (CPU time {r['cpu_ratio']:.2f})")
    result = {"benchmark": "model", "torch": torch.__version__, "threads": torch.get_num_threads(),
              "cpu": platform.processor() or platform.machine(), "python": platform.python_version(),
              "overrides": args.set, "load_average_1min_at_end": os.getloadavg()[0],
              "results": rows, "k_scaling": scaling}
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
