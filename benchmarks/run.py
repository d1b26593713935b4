"""One benchmark report: runs the per-area benchmark scripts, prints one table, writes JSON.

    python benchmarks/run.py                          # full CPU report -> benchmarks/results.json
    python benchmarks/run.py --quick --threads 1      # smoke test (few frames/steps, ~1-2 min)
    python benchmarks/run.py --device cuda --json benchmarks/results-cuda.json   # bf16 on GPU
    python benchmarks/run.py --render benchmarks/results.json   # re-print a saved report

Nothing is re-implemented here: each measurement is one subprocess of an existing script,
whose JSON is read back:

  benchmarks/extract.py     extract fps, pose and face (176x144 and 256x256, 1 worker)
  benchmarks/model.py       generator step: GFLOPs/frame (FlopCounterMode), fps, achieved GFLOP/s,
                            per fast-path mode (fp32 eager / bf16 / compiled) at K = 1 and 4
  benchmarks/synthesize.py  synthesize fps end-to-end and generator-only (tiny@128, pose-256)
  benchmarks/train.py       train it/s and samples/s (tiny), per sequence length T

Peak RSS is that of each subprocess (``os.wait4`` rusage ``ru_maxrss``: the largest resident
set of the process and its waited-for descendants). "GFLOP/s" of generator-only synthesis is
derived: model.py's counted GFLOP/frame for the same preset x synthesize.py's generator fps
(marked as such). Generator-step rows carry the fast-path columns (frames/s of each mode; the
"throughput" column is the path `v2v synthesize` takes by default), and the K-scaling rows give
the per-frame cost at K = 4 over K = 1. Anything a script does not measure, or a script that fails, shows as
"n/a (reason)"; no number is estimated. The table goes to stderr, the JSON (header, rows,
each script's raw JSON, commands, timings) to ``--json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_JSON = HERE / "results.json"
FORMAT = "v2v-bench/1"

# ---------------------------------------------------------------------------------------------
# header: device and versions


def cpu_model(cpuinfo: str | None = None) -> str:
    """The CPU's "model name" from /proc/cpuinfo (falls back to platform.processor())."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "Processor") and value.strip():
            return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def _dist_version(*names: str) -> str:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "torch": _dist_version("torch"),
        "torchvision": _dist_version("torchvision"),
        "mediapipe": _dist_version("mediapipe"),
        "opencv": _dist_version("opencv-contrib-python", "opencv-python",
                                "opencv-contrib-python-headless", "opencv-python-headless"),
        "av": _dist_version("av"),
        "numpy": _dist_version("numpy"),
        "v2vtool": _dist_version("v2vtool"),
    }


def gpu_name() -> str | None:
    """Name of CUDA device 0, or None without CUDA (imports torch)."""
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_name(0)


def machine_header(device: str, threads: int | None, quick: bool) -> dict[str, Any]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu_model": cpu_model(), "cpu_count": os.cpu_count(), "cpus_usable": usable,
        "platform": platform.platform(), "device": device,
        "gpu": gpu_name() if device == "cuda" else None,
        "threads": threads, "quick": quick,
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": versions(),
    }


# ---------------------------------------------------------------------------------------------
# the subprocess jobs


def plan(quick: bool, device: str, threads: int | None) -> list[dict[str, Any]]:
    """The jobs to run: name, script, argv (without --json), how the script returns its JSON."""
    py = sys.executable
    th = ["--threads", str(threads)] if threads else []
    cuda = device == "cuda"
    jobs: list[dict[str, Any]] = []
    for kind in ("pose", "face"):
        jobs.append({"name": f"extract-{kind}", "script": "extract.py", "output": "file",
                     "argv": [py, str(HERE / "extract.py"), "--kinds", kind, "--workers", "1",
                              "--copies", "1"]})
    for name in ("tiny", "pose-256"):
        if quick:  # smoke test: eager fast path only (a compile takes minutes on a CPU)
            iters = "5" if name == "tiny" else "1"
            batches, modes = "1", "fp32,bf16"
        else:
            iters = None
            batches = "1,8" if (name == "tiny" or cuda) else "1"
            modes = "fp32,bf16,compiled"
        argv = [py, str(HERE / "model.py"), "--presets", name, "--batches", batches,
                "--ks", "1,4", "--device", device, "--modes", modes, *th]
        if iters:
            argv += ["--iters", iters]
        jobs.append({"name": f"model-{name}", "script": "model.py", "output": "file",
                     "argv": argv})
    for name in ("tiny", "pose-256"):
        frames = ("8" if name == "tiny" else "2") if quick else ("60" if name == "tiny" or cuda
                                                                 else "6")
        jobs.append({"name": f"synthesize-{name}", "script": "synthesize.py", "output": "stdout",
                     "argv": [py, str(HERE / "synthesize.py"), "--presets", name, "--frames",
                              frames, "--k", "1", "--device", device, *th]})
    train_args = (["--steps", "4", "--batch", "2", "--size", "64"] if quick
                  else ["--steps", "16", "--batch", "4", "--size", "128"])
    jobs.append({"name": "train-tiny", "script": "train.py", "output": "file",
                 "argv": [py, str(HERE / "train.py"), *train_args, *th]})
    return jobs


def _tail(path: Path, n: int = 6) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def run_job(job: dict[str, Any], work: Path, timeout: float) -> dict[str, Any]:
    """Run one script in a subprocess; returns its parsed JSON, wall time and peak RSS."""
    out_json = work / f"{job['name']}.json"
    stdout, stderr = work / f"{job['name']}.stdout", work / f"{job['name']}.stderr"
    argv = list(job["argv"])
    if job["output"] == "file":
        argv += ["--json", str(out_json)]
    res: dict[str, Any] = {"name": job["name"], "script": job["script"],
                           "command": " ".join(argv[1:]), "returncode": None, "wall_s": None,
                           "peak_rss_mb": None, "data": None, "error": None}
    t0 = time.perf_counter()
    with open(stdout, "wb") as so, open(stderr, "wb") as se:
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=so, stderr=se, stdin=subprocess.DEVNULL)
        status = rusage = None
        while True:  # poll with wait4 so that this child's own rusage (peak RSS) comes back
            pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                status, rusage = st, ru
                break
            if time.perf_counter() - t0 > timeout:
                proc.kill()
                _, status, rusage = os.wait4(proc.pid, 0)
                res["error"] = f"timed out after {timeout:.0f} s"
                break
            time.sleep(0.1)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    res["wall_s"] = round(time.perf_counter() - t0, 2)
    res["returncode"] = proc.returncode
    res["peak_rss_mb"] = round(rusage.ru_maxrss / 1024, 1)  # Linux: KiB
    if res["error"] is None and proc.returncode != 0:
        last = _tail(stderr, 1) or f"exit status {proc.returncode}"
        res["error"] = f"{job['script']} failed: {last[:160]}"
    if res["error"]:
        res["stderr_tail"] = _tail(stderr, 20)
        return res
    try:
        text = out_json.read_text() if job["output"] == "file" else stdout.read_text()
        res["data"] = json.loads(text)
    except (OSError, ValueError) as e:
        res["error"] = f"{job['script']} wrote no readable JSON ({type(e).__name__})"
        res["stderr_tail"] = _tail(stderr, 20)
    return res


# ---------------------------------------------------------------------------------------------
# turning the scripts' JSON into rows (pure functions: tested on canned results)

NA_FIELDS = ("throughput", "peak_rss_mb", "gflop_per_frame", "gflop_per_s")


def make_row(benchmark: str, config: str, unit: str, *, throughput=None, peak_rss_mb=None,
             gflop_per_frame=None, gflop_per_s=None, details: str = "",
             reasons: dict[str, str] | None = None, source: str = "") -> dict[str, Any]:
    """One table row; each missing number must come with its reason in `reasons`."""
    row = {"benchmark": benchmark, "config": config, "unit": unit, "throughput": throughput,
           "peak_rss_mb": peak_rss_mb, "gflop_per_frame": gflop_per_frame,
           "gflop_per_s": gflop_per_s, "details": details, "source": source, "na": {}}
    for f in NA_FIELDS:
        if row[f] is None:
            row["na"][f] = (reasons or {}).get(f, "not measured")
    return row


def _failed(sub: dict[str, Any] | None, script: str) -> str | None:
    if sub is None:
        return f"{script} not run"
    if sub.get("error"):
        return sub["error"]
    if sub.get("data") is None:
        return f"{script} returned no data"
    return None


def _rss(sub: dict[str, Any] | None, fallback: float | None = None) -> tuple[float | None, str]:
    if sub is not None and sub.get("peak_rss_mb") is not None:
        return sub["peak_rss_mb"], ""
    if fallback is not None:
        return fallback, ""
    return None, "RSS not measured"


def extract_rows(kind: str, sub: dict[str, Any] | None) -> list[dict[str, Any]]:
    src = "benchmarks/extract.py"
    why = _failed(sub, "extract.py")
    flop = {"gflop_per_frame": "mediapipe: not counted", "gflop_per_s": "mediapipe: not counted"}
    if why:
        return [make_row(f"extract {kind}", "176x144 & 256x256, 1 worker", "frames/s",
                         reasons={"throughput": why, "peak_rss_mb": why, **flop}, source=src)]
    rss, rss_why = _rss(sub)
    rows = []
    for r in sub["data"].get("rows", []):
        if r.get("kind") != kind or r.get("workers") != 1:
            continue
        details = (f"loop {r.get('loop_fps')}, detector alone {r.get('detect_fps')} fps; "
                   f"{r.get('cpu_ms_per_frame')} CPU ms/frame; {r.get('frames')} frames; "
                   "mediapipe sets its own threads")
        rows.append(make_row(f"extract {kind}", f"{r.get('size')}, 1 worker", "frames/s",
                             throughput=r.get("wall_fps"), peak_rss_mb=rss, details=details,
                             reasons={"throughput": "extract.py gave no wall_fps",
                                      "peak_rss_mb": rss_why, **flop}, source=src))
    if not rows:
        rows.append(make_row(f"extract {kind}", "1 worker", "frames/s",
                             reasons={"throughput": f"extract.py JSON has no {kind} row",
                                      "peak_rss_mb": f"extract.py JSON has no {kind} row", **flop},
                             source=src))
    return rows


def _model_result(sub: dict[str, Any] | None, batch: int = 1, k: int = 1) -> dict | None:
    if _failed(sub, "model.py"):
        return None
    for r in sub["data"].get("results", []):
        if r.get("batch") == batch and r.get("k") == k:
            return r
    return None


FAST_MODES = (("fp32", "fp32 eager"), ("bf16", "bf16"), ("compiled", "compiled"))


def _mode_of(r: dict) -> str:
    """A model.py result's mode (results written before modes existed: plain / bf16)."""
    return r.get("mode") or ("plain" if r.get("amp") in (None, "none") else "bf16")


def _default_mode(group: dict[str, dict]) -> str:
    """The measured mode `v2v synthesize` would run by default (its "auto" amp)."""
    any_row = next(iter(group.values()))
    want = {"bf16": "bf16", "none": "fp32"}.get(any_row.get("default_amp") or "", None)
    for mode in (want, "bf16" if any_row.get("device", "").startswith("cuda") else None,
                 "fp32", "plain"):
        if mode in group:
            return mode
    return next(iter(group))


def model_rows(name: str, sub: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per (size, batch, K, device): throughput = the default path; the fast-path
    columns fp32 eager / bf16 / compiled hold each mode's frames/s."""
    src = "benchmarks/model.py"
    why = _failed(sub, "model.py")
    if why:
        row = make_row("generator step", name, "frames/s", reasons={f: why for f in NA_FIELDS},
                       source=src)
        row["modes"], row["modes_na"] = {}, {m: why for m, _ in FAST_MODES}
        return [row]
    rss, rss_why = _rss(sub)
    groups: dict[tuple, dict[str, dict]] = {}
    for r in sub["data"].get("results", []):
        key = (tuple(r.get("size", ["?", "?"])), r.get("batch"), r.get("k"), r.get("device"))
        groups.setdefault(key, {})[_mode_of(r)] = r
    rows = []
    for (size, batch, k, device), group in groups.items():
        default = _default_mode(group)
        r = group[default]
        w, h = size
        amp = "" if r.get("amp") in (None, "none") else f" {r['amp']}"
        cfg = f"{r.get('preset')} {w}x{h} B{batch} K{k} {device}{amp}"
        details = (f"default path: {default}; {r.get('params_m', 0):.2f} M params; "
                   f"{r.get('cpu_ms_per_frame', 0):.1f} CPU ms/frame; {r.get('timed_steps')} "
                   "timed steps")
        if "plain" in group and default != "plain":
            details += f"; before the fast path (plain module) {group['plain']['fps']:.2f} fps"
        if "compiled" in group:
            details += f"; compile: first step {group['compiled'].get('first_step_s', 0):.0f} s"
        row = make_row("generator step", cfg, "frames/s", throughput=r.get("fps"),
                       peak_rss_mb=rss, gflop_per_frame=r.get("gflops_per_frame"),
                       gflop_per_s=r.get("achieved_gflops_per_s"), details=details,
                       reasons={"peak_rss_mb": rss_why}, source=src)
        row["modes"] = {m: group[m]["fps"] for m, _ in FAST_MODES if m in group}
        row["modes_na"] = {m: "not measured" for m, _ in FAST_MODES if m not in group}
        rows.append(row)
    if not rows:
        row = make_row("generator step", name, "frames/s",
                       reasons={f: "model.py JSON has no results" for f in NA_FIELDS},
                       source=src)
        row["modes"], row["modes_na"] = {}, {m: "no results" for m, _ in FAST_MODES}
        rows.append(row)
    return rows


def k_scaling_rows(name: str, sub: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per-frame cost at K = 4 over K = 1 (model.py, same preset / batch / mode): the K-flat
    target is <= 1.3. A ratio, so no RSS / FLOP columns."""
    src = "benchmarks/model.py"
    na = {"peak_rss_mb": "a ratio", "gflop_per_frame": "a ratio", "gflop_per_s": "a ratio"}
    why = _failed(sub, "model.py")
    if why:
        return [make_row("K-scaling", name, "x", reasons={"throughput": why, **na}, source=src)]
    res = sub["data"].get("results", [])
    rows = []
    for r in res:
        if r.get("k", 1) == 1:
            continue
        base = next((b for b in res if b.get("k") == 1 and b.get("batch") == r.get("batch")
                     and _mode_of(b) == _mode_of(r) and b.get("size") == r.get("size")), None)
        if base is None:
            continue
        w, h = r.get("size", ["?", "?"])
        cpu = r.get("cpu_ms_per_frame", 0) / max(base.get("cpu_ms_per_frame", 0), 1e-9)
        rows.append(make_row(
            "K-scaling", f"{r.get('preset')} {w}x{h} B{r.get('batch')} {_mode_of(r)}: "
            f"K{r.get('k')} / K1 per frame", "x", throughput=r["ms_per_frame"] /
            base["ms_per_frame"], details=f"CPU-time ratio {cpu:.2f} (robust to load); "
            f"GFLOP/frame {base.get('gflops_per_frame', 0):.2f} -> "
            f"{r.get('gflops_per_frame', 0):.2f}", reasons=na, source=src))
    if not rows:
        rows.append(make_row("K-scaling", name, "x",
                             reasons={"throughput": "model.py ran no K > 1", **na}, source=src))
    return rows


def synth_rows(name: str, sub: dict[str, Any] | None,
               model_sub: dict[str, Any] | None) -> list[dict[str, Any]]:
    """End-to-end and generator-only rows; GFLOP/frame from model.py (same preset, B1 K1)."""
    src = "benchmarks/synthesize.py"
    why = _failed(sub, "synthesize.py")
    data = None if why else [r for r in sub["data"] if r.get("preset") == name and
                             not r.get("memory")]
    if not why and not data:
        why = f"synthesize.py JSON has no {name} row"
    if why:
        return [make_row(f"synthesize {kind}", name, "frames/s",
                         reasons={f: why for f in NA_FIELDS}, source=src)
                for kind in ("end-to-end", "generator-only")]
    r = data[0]
    rss, rss_why = _rss(sub)
    k = r.get("k", 1)
    m = _model_result(model_sub, 1, k)
    gpf = None if m is None else m.get("gflops_per_frame")
    gpf_why = (_failed(model_sub, "model.py") or f"model.py has no B1 K{k} result") \
        if gpf is None else ""
    cfg = f"{name} {r.get('size')} K{k} {r.get('device')}"
    e2e = make_row(
        "synthesize end-to-end", cfg, "frames/s", throughput=r.get("end_to_end_fps"),
        peak_rss_mb=rss, gflop_per_frame=gpf,
        details=(f"{r.get('frames')} frames; setup {r.get('setup_seconds')} s excluded; "
                 f"generator in pipeline {r.get('generator_fps_in_pipeline')} fps; "
                 f"torch threads {r.get('threads')}"),
        reasons={"throughput": "synthesize.py gave no end_to_end_fps", "peak_rss_mb": rss_why,
                 "gflop_per_frame": gpf_why,
                 "gflop_per_s": "end-to-end: not a FLOP rate"},
        source=src)
    gfps = r.get("generator_only_fps")
    derived = None if gpf is None or gfps is None else round(gpf * gfps, 2)
    gen = make_row(
        "synthesize generator-only", cfg, "frames/s", throughput=gfps, peak_rss_mb=rss,
        gflop_per_frame=gpf, gflop_per_s=derived,
        details="GFLOP/s derived: model.py GFLOP/frame x this fps; RSS: whole synthesize run",
        reasons={"throughput": "synthesize.py gave no generator_only_fps",
                 "peak_rss_mb": rss_why, "gflop_per_frame": gpf_why,
                 "gflop_per_s": gpf_why or "synthesize.py gave no generator_only_fps"},
        source=src)
    return [e2e, gen]


def train_rows(sub: dict[str, Any] | None) -> list[dict[str, Any]]:
    src = "benchmarks/train.py"
    no_flops = {"gflop_per_frame": "train.py: not counted", "gflop_per_s": "train.py: not counted"}
    why = _failed(sub, "train.py")
    if why:
        return [make_row("train", "tiny", "it/s", reasons={"throughput": why, "peak_rss_mb": why,
                                                            **no_flops}, source=src)]
    data = sub["data"]
    tr = data.get("train", {})
    rss, rss_why = _rss(sub, data.get("peak_rss_mb"))
    rows = []
    for t_len, v in (tr.get("by_seq_len") or {}).items():
        cfg = f"tiny {tr.get('size')}x{tr.get('size')} B{tr.get('batch')} {t_len} cpu"
        samples = v.get("samples_s")
        details = (f"{v.get('frames_s')} frames/s; median of {v.get('steps')} steps; "
                   f"torch threads {tr.get('threads')}")
        rows.append(make_row("train", cfg, "it/s", throughput=v.get("it_s"), peak_rss_mb=rss,
                             details=details, source=src,
                             reasons={"throughput": "train.py gave no it_s",
                                      "peak_rss_mb": rss_why, **no_flops}))
        rows[-1]["samples_per_s"] = samples
    if not rows:
        rows.append(make_row("train", "tiny", "it/s",
                             reasons={"throughput": "train.py JSON has no by_seq_len",
                                      "peak_rss_mb": rss_why or "n/a", **no_flops}, source=src))
    return rows


def build_rows(subs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """All rows, in table order, from the sub-results keyed by job name."""
    rows = []
    for kind in ("pose", "face"):
        rows += extract_rows(kind, subs.get(f"extract-{kind}"))
    for name in ("tiny", "pose-256"):
        rows += synth_rows(name, subs.get(f"synthesize-{name}"), subs.get(f"model-{name}"))
    for name in ("tiny", "pose-256"):
        rows += model_rows(name, subs.get(f"model-{name}"))
    for name in ("tiny", "pose-256"):
        rows += k_scaling_rows(name, subs.get(f"model-{name}"))
    rows += train_rows(subs.get("train-tiny"))
    return rows


def merge_report(header: dict[str, Any], subs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The JSON document: header, rows, and each script's raw output and run info."""
    return {"format": FORMAT, "header": header, "rows": build_rows(subs),
            "runs": {name: dict(sub) for name, sub in subs.items()}}


# ---------------------------------------------------------------------------------------------
# the table


def cell(row: dict[str, Any], field: str, fmt: str = "{:.2f}") -> str:
    v = row.get(field)
    if v is None:
        return f"n/a ({row['na'].get(field, 'not measured')})"
    return fmt.format(v) if isinstance(v, (int, float)) else str(v)


def header_lines(h: dict[str, Any]) -> list[str]:
    v = h["versions"]
    load = "/".join(f"{x:.1f}" for x in h["load_average_start"])
    end = h.get("load_average_end")
    load_end = "/".join(f"{x:.1f}" for x in end) if end else "n/a (run not finished)"
    gpu = h.get("gpu") or ("n/a (no CUDA)" if h["device"] == "cuda" else "none used")
    return [
        f"CPU: {h['cpu_model']}, {h['cpu_count']} cores ({h['cpus_usable']} usable); "
        f"GPU: {gpu}; device {h['device']}; threads {h['threads'] or 'default'}"
        f"{'; QUICK (smoke-test sizes)' if h.get('quick') else ''}",
        f"load average 1/5/15 min: start {load}, end {load_end}",
        "python {python} | torch {torch} | torchvision {torchvision} | mediapipe {mediapipe} | "
        "opencv {opencv} | av {av} | numpy {numpy} | v2vtool {v2vtool}".format(**v),
    ]


def build_table(report: dict[str, Any]):
    from rich.table import Table

    h = report["header"]
    table = Table(title="v2vtool benchmarks", caption="\n".join(header_lines(h)),
                  caption_justify="left", show_lines=False)
    for col, just in (("benchmark", "left"), ("config", "left"), ("throughput", "right"),
                      *((label, "right") for _, label in FAST_MODES),
                      ("peak RSS MB", "right"), ("GFLOP/frame", "right"), ("GFLOP/s", "right"),
                      ("details", "left")):
        table.add_column(col, justify=just, overflow="fold")
    for r in report["rows"]:
        fast = []
        for mode, _ in FAST_MODES:
            if "modes" not in r:
                fast.append("-")
            elif r["modes"].get(mode) is not None:
                fast.append(f"{r['modes'][mode]:.2f}")
            else:
                fast.append(f"n/a ({r.get('modes_na', {}).get(mode, 'not measured')})")
        thr = cell(r, "throughput")
        if r.get("throughput") is not None:
            thr = f"{thr} {r['unit']}"
        if "samples_per_s" in r:  # train rows: it/s and samples/s
            s = r["samples_per_s"]
            thr += "\n" + ("n/a (train.py gave no samples_s)" if s is None
                           else f"{s:.2f} samples/s")
        table.add_row(r["benchmark"], r["config"], thr, *fast, cell(r, "peak_rss_mb", "{:.0f}"),
                      cell(r, "gflop_per_frame", "{:.3f}"), cell(r, "gflop_per_s", "{:.1f}"),
                      r.get("details", ""))
    return table


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few frames/steps: a smoke test")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                    help="cuda: generator benchmarks in bf16 where the script supports it")
    ap.add_argument("--threads", type=int, default=None, help="torch threads for the scripts")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON, help="JSON output path")
    ap.add_argument("--render", type=Path, default=None,
                    help="re-print the table of an existing results JSON (runs nothing)")
    ap.add_argument("--only", default="", help=argparse.SUPPRESS)  # comma-separated job names
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds per script (default 300 quick, 3600 full)")
    args = ap.parse_args(argv)
    from rich.console import Console

    from v2vtool.io.atomic import atomic_path

    console = Console(stderr=True, width=max(260, Console(stderr=True).width))
    if args.render is not None:
        try:
            old = json.loads(args.render.read_text())
            report = merge_report(old["header"], old["runs"])
        except (OSError, ValueError, KeyError) as e:
            console.print(f"error: {args.render}: not a benchmarks/run.py results file ({e})")
            return 2
        console.print(build_table(report))
        return 0
    if args.threads is not None and args.threads < 1:
        console.print("error: --threads must be >= 1")
        return 2
    header = machine_header(args.device, args.threads, args.quick)
    if args.device == "cuda" and header["gpu"] is None:
        console.print("error: --device cuda but torch sees no CUDA device")
        return 2
    jobs = plan(args.quick, args.device, args.threads)
    if args.only:
        jobs = [j for j in jobs if j["name"] in args.only.split(",")]
    timeout = args.timeout or (300.0 if args.quick else 3600.0)
    subs: dict[str, dict[str, Any]] = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="v2v-bench-") as tmp:
        for i, job in enumerate(jobs, 1):
            with console.status(f"[{i}/{len(jobs)}] {job['name']} ..."):
                sub = run_job(job, Path(tmp), timeout)
            subs[job["name"]] = sub
            state = f"[red]{sub['error']}[/]" if sub["error"] else "[green]ok[/]"
            console.print(f"[dim][{i}/{len(jobs)}] {job['name']}: {sub['wall_s']} s, "
                          f"peak RSS {sub['peak_rss_mb']} MB,[/] {state}")
    header["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    header["total_wall_s"] = round(time.perf_counter() - t0, 1)
    report = merge_report(header, subs)
    console.print(build_table(report))
    with atomic_path(args.json) as tmp_json:
        tmp_json.write_text(json.dumps(report, indent=2) + "\n")
    console.print(f"wrote {args.json} ({header['total_wall_s']} s)")
    return 1 if any(s["error"] for s in subs.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
