"""The accelerator table: synthesis fps, train it/s and samples/s, peak memory, in bf16 and
fp32, for tiny, pose-256 and face-256 (what `benchmarks/gpu.sh` prints after the gpu tests).

    python benchmarks/gpu.py --out benchmarks/results-gpu          # CUDA machine
    python benchmarks/gpu.py --dry-run --out /tmp/gpu-dry          # CPU, shrunken models

Each measurement is one subprocess of an existing script (benchmarks/model.py for the
synthesis step, benchmarks/train.py for training), so peak memory is per configuration:
GPU memory from torch.cuda.max_memory_allocated, host memory as the process's peak RSS.
synthesis fps = ``generator.step`` in the steady state of synthesis (batch 1, previous output
fed back) on the fast path (bf16 = autocast + bf16 weights; fp32 = the same path in fp32),
K = 1 and K = 4. Training: train.amp=bf16 vs none, per sequence length (T = 1, then 4).
A soft time budget (--budget, default 480 s) skips the remaining jobs and says so.
Writes OUT/gpu.json and OUT/gpu.md (the table); the table also goes to stderr.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

PRESETS = ("tiny", "pose-256", "face-256")
AMPS = (("bf16", "bf16", "bf16"), ("fp32", "fp32", "none"))  # label, model.py mode, train.amp
TRAIN_BATCH = {"tiny": 8, "pose-256": 4, "face-256": 4}
# --dry-run: every preset shrunk to a CPU-sized model (checks the script, not the numbers)
SHRINK = ["generator.height=64", "generator.width=64", "generator.ngf=8",
          "generator.n_downsample=3", "generator.max_channels=32", "generator.flow_ngf=8",
          "generator.flow_n_blocks=1", "generator.flow_max_channels=32",
          "generator.attention_channels=8", "generator.spade_hidden=16",
          "generator.weightgen_hidden=16", "discriminator.ndf=8", "discriminator.n_layers=2",
          "data.workers=0"]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def plan(device: str, dry: bool, data: dict[str, Path], steps: int) -> list[dict]:
    py = sys.executable
    jobs = []
    for name in PRESETS:
        sets = [a for o in SHRINK for a in ("--set", o)] if dry else []
        for label, mode, amp in AMPS:
            iters = "3" if dry else "50"
            jobs.append({"name": f"synth-{name}-{label}", "script": "model.py", "output": "file",
                         "preset": name, "amp": label, "kind": "synth",
                         "argv": [py, str(HERE / "model.py"), "--presets", name, "--batches",
                                  "1", "--ks", "1,4", "--modes", mode, "--device", device,
                                  "--iters", iters, *sets]})
            kind = "face" if name.startswith("face") else "pose"
            jobs.append({"name": f"train-{name}-{label}", "script": "train.py", "output": "file",
                         "preset": name, "amp": label, "kind": "train",
                         "argv": [py, str(HERE / "train.py"), "--preset", name, "--device",
                                  device, "--amp", amp, "--batch",
                                  str(2 if dry else TRAIN_BATCH[name]), "--steps", str(steps),
                                  "--skip-data-costs", "--data", str(data[kind]), "--size", "64",
                                  *sets]})
    return sorted(jobs, key=lambda j: j["kind"] != "synth")  # synthesis first (cheap)


def make_data(root: Path, dry: bool) -> dict[str, Path]:
    """Procedural training data, made once for every train job."""
    from v2vtool.data.synth import generate_dataset

    size = 64 if dry else 256
    pose = generate_dataset(root / "pose", identities=4, clips_per_identity=2, frames=16,
                            size=size, seed=0, test_identities=1, workers=min(4, os.cpu_count()
                                                                              or 1))
    face = _load("train").face_dataset(root / "face", clips=4, frames=16, size=size)
    return {"pose": pose, "face": face}


def rows_from(results: dict[str, dict]) -> list[dict]:
    """One row per (preset, precision) from the jobs' results (missing numbers: reasons)."""
    rows = []
    for name in PRESETS:
        for label, _, _ in AMPS:
            row = {"preset": name, "precision": label, "na": {}}
            s, t = results.get(f"synth-{name}-{label}"), results.get(f"train-{name}-{label}")
            if s and not s.get("error"):
                by_k = {r["k"]: r for r in s["data"]["results"]}
                row["size"] = "x".join(str(v) for v in by_k[1]["size"])
                row["synth_fps_k1"] = by_k[1]["fps"]
                row["synth_fps_k4"] = by_k.get(4, {}).get("fps")
                row["synth_peak_gpu_mb"] = by_k[1].get("peak_gpu_memory_mb")
                row["synth_peak_rss_mb"] = s.get("peak_rss_mb")
            else:
                row["na"]["synth"] = (s or {}).get("error") or "not run"
            if t and not t.get("error"):
                tr = t["data"]["train"]
                row["train_batch"] = tr["batch"]
                row["train"] = {k: {"it_s": v["it_s"], "samples_s": v["samples_s"]}
                                for k, v in tr["by_seq_len"].items()}
                row["train_peak_gpu_mb"] = tr.get("peak_gpu_memory_mb")
                row["train_peak_rss_mb"] = t.get("peak_rss_mb")
            else:
                row["na"]["train"] = (t or {}).get("error") or "not run"
            rows.append(row)
    return rows


def _fmt(v, spec="{:.1f}") -> str:
    return "n/a" if v is None else spec.format(v)


def markdown(rows: list[dict], header: dict) -> str:
    lines = [f"GPU benchmark ({header['device']}: {header.get('gpu') or 'no GPU'}; torch "
             f"{header['torch']}; {header['started_utc']}{'; DRY RUN' if header['dry'] else ''})",
             "",
             "| preset | size | precision | synth fps K=1 | synth fps K=4 | train it/s (samples/s) "
             "T=1 | train it/s (samples/s) T=4 | peak GPU MB synth / train | peak RSS MB "
             "synth / train |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        tr = r.get("train", {})

        def cell(t):
            v = tr.get(t)
            return "n/a" if v is None else f"{v['it_s']:.2f} ({v['samples_s']:.1f})"

        why = "; ".join(f"{k}: {v}" for k, v in r["na"].items())
        lines.append(
            f"| {r['preset']} | {r.get('size', 'n/a')} | {r['precision']} | "
            f"{_fmt(r.get('synth_fps_k1'))} | {_fmt(r.get('synth_fps_k4'))} | {cell('T=1')} | "
            f"{cell('T=4')} | {_fmt(r.get('synth_peak_gpu_mb'), '{:.0f}')} / "
            f"{_fmt(r.get('train_peak_gpu_mb'), '{:.0f}')} | "
            f"{_fmt(r.get('synth_peak_rss_mb'), '{:.0f}')} / "
            f"{_fmt(r.get('train_peak_rss_mb'), '{:.0f}')} |" + (f" {why}" if why else ""))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for gpu.json / gpu.md")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dry-run", action="store_true",
                    help="CPU, shrunken models, few steps: checks the script end to end")
    ap.add_argument("--steps", type=int, default=None, help="train steps per job (default 6)")
    ap.add_argument("--budget", type=float, default=480.0, help="soft time budget, seconds")
    ap.add_argument("--timeout", type=float, default=240.0, help="per job, seconds")
    args = ap.parse_args(argv)
    import torch

    run = _load("run")
    device = "cpu" if args.dry_run else args.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        print("error: --device cuda but torch sees no CUDA device (use --dry-run on a CPU)",
              file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    header = {"device": device, "gpu": torch.cuda.get_device_name(0)
              if device.startswith("cuda") else None, "torch": torch.__version__,
              "dry": args.dry_run, "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                 time.gmtime()),
              "cpu_model": run.cpu_model(), "load_average_start": list(os.getloadavg())}
    t0 = time.perf_counter()
    results: dict[str, dict] = {}
    steps = args.steps or (4 if args.dry_run else 6)
    with tempfile.TemporaryDirectory(prefix="v2v-gpu-") as tmp:
        data = make_data(Path(tmp) / "data", args.dry_run)
        header["data_seconds"] = round(time.perf_counter() - t0, 1)
        for job in plan(device, args.dry_run, data, steps):
            left = args.budget - (time.perf_counter() - t0)
            if left < 10:
                results[job["name"]] = {"error": f"skipped: time budget {args.budget:.0f} s spent"}
                continue
            res = run.run_job(job, Path(tmp), min(args.timeout, left + 30))
            results[job["name"]] = res
            state = res["error"] or "ok"
            print(f"[{time.perf_counter() - t0:6.1f} s] {job['name']}: {res['wall_s']} s, {state}",
                  file=sys.stderr, flush=True)
    header["total_seconds"] = round(time.perf_counter() - t0, 1)
    header["load_average_end"] = list(os.getloadavg())
    rows = rows_from(results)
    text = markdown(rows, header)
    (args.out / "gpu.json").write_text(json.dumps({"header": header, "rows": rows,
                                                   "runs": results}, indent=2) + "\n")
    (args.out / "gpu.md").write_text(text)
    print(text, file=sys.stderr)
    print(f"wrote {args.out / 'gpu.md'} and gpu.json ({header['total_seconds']} s)",
          file=sys.stderr)
    return 1 if any(r.get("error") for r in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
