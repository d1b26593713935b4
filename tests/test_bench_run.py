"""benchmarks/run.py: table building and JSON merging on canned sub-results (no benchmarks run)."""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from tests.conftest import load_script

RUN = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def bench():
    return load_script(RUN, "v2v_bench_run")


def _sub(name, data, rss=500.0, error=None):
    return {"name": name, "script": name.split("-")[0] + ".py", "command": "x", "returncode": 0,
            "wall_s": 1.0, "peak_rss_mb": rss, "data": data, "error": error}


EXTRACT_POSE = {"benchmark": "extract", "rows": [
    {"kind": "pose", "size": "176x144", "workers": 1, "frames": 120, "wall_fps": 12.5,
     "loop_fps": 14.0, "detect_fps": 20.0, "cpu_ms_per_frame": 80.0},
    {"kind": "pose", "size": "176x144", "workers": 2, "frames": 120, "wall_fps": 20.0,
     "loop_fps": 11.0, "detect_fps": 20.0, "cpu_ms_per_frame": 90.0},
    {"kind": "pose", "size": "256x256", "workers": 1, "frames": 120, "wall_fps": 10.0,
     "loop_fps": 11.0, "detect_fps": 15.0, "cpu_ms_per_frame": 95.0}]}
MODEL_TINY = {"benchmark": "model", "results": [
    {"preset": "tiny", "size": [128, 128], "batch": 1, "k": 1, "device": "cpu", "amp": "none",
     "params_m": 3.1, "gflops_per_frame": 2.0, "fps": 10.0, "achieved_gflops_per_s": 20.0,
     "cpu_ms_per_frame": 150.0, "timed_steps": 5}]}
SYNTH_TINY = [{"preset": "tiny", "size": "128x128", "k": 1, "frames": 8, "end_to_end_fps": 4.0,
               "generator_fps_in_pipeline": 6.0, "generator_only_fps": 8.0,
               "setup_seconds": 1.2, "device": "cpu", "threads": 1}]
TRAIN = {"torch_threads": 1, "peak_rss_mb": 900.0, "train": {
    "steps": 4, "batch": 2, "size": 64, "threads": 1, "wall_s": 9.0,
    "by_seq_len": {"T=1": {"it_s": 2.0, "samples_s": 4.0, "frames_s": 4.0, "steps": 1},
                   "T=4": {"it_s": 0.5, "samples_s": 1.0, "frames_s": 4.0, "steps": 1}}}}


def _header(bench):
    return {"cpu_model": "Test CPU", "cpu_count": 2, "cpus_usable": 2, "device": "cpu",
            "gpu": None, "threads": 1, "quick": True, "load_average_start": [1.0, 2.0, 3.0],
            "load_average_end": [1.5, 2.0, 3.0], "versions": bench.versions()}


def test_rows_pick_numbers_and_derive_only_marked_values(bench):
    subs = {"extract-pose": _sub("extract-pose", EXTRACT_POSE, rss=700.0),
            "model-tiny": _sub("model-tiny", MODEL_TINY),
            "synthesize-tiny": _sub("synthesize-tiny", SYNTH_TINY, rss=650.0),
            "train-tiny": _sub("train-tiny", TRAIN, rss=None)}
    rows = bench.build_rows(subs)
    by = {(r["benchmark"], r["config"]): r for r in rows}
    # extract: only 1-worker rows, with the subprocess's RSS
    pose = [r for r in rows if r["benchmark"] == "extract pose"]
    assert [r["throughput"] for r in pose] == [12.5, 10.0]
    assert all(r["peak_rss_mb"] == 700.0 for r in pose)
    assert pose[0]["na"]["gflop_per_frame"].startswith("mediapipe")
    # synthesize: GFLOP/frame from model.py, GFLOP/s derived only for generator-only
    e2e = by[("synthesize end-to-end", "tiny 128x128 K1 cpu")]
    gen = by[("synthesize generator-only", "tiny 128x128 K1 cpu")]
    assert (e2e["throughput"], e2e["gflop_per_frame"], e2e["gflop_per_s"]) == (4.0, 2.0, None)
    assert gen["throughput"] == 8.0 and gen["gflop_per_s"] == pytest.approx(16.0)
    assert "derived" in gen["details"]
    step = by[("generator step", "tiny 128x128 B1 K1 cpu")]
    assert (step["throughput"], step["gflop_per_s"]) == (10.0, 20.0)
    # train: it/s per T, samples/s kept; RSS falls back to the script's own number
    train = [r for r in rows if r["benchmark"] == "train"]
    assert [r["throughput"] for r in train] == [2.0, 0.5]
    assert [r["samples_per_s"] for r in train] == [4.0, 1.0]
    assert all(r["peak_rss_mb"] == 900.0 for r in train)
    # jobs not run (face, pose-256) still have rows, each missing number with a reason
    missing = [r for r in rows if "face" in r["benchmark"] or "pose-256" in r["config"]]
    assert missing and all(r["throughput"] is None and r["na"]["throughput"] for r in missing)
    # a missing number never comes without a reason
    for r in rows:
        for f in bench.NA_FIELDS:
            assert (r[f] is None) == (f in r["na"]), (r["benchmark"], f)


def test_failed_script_shows_reason_not_numbers(bench):
    subs = {"synthesize-pose-256": _sub("synthesize-pose-256", None,
                                        error="synthesize.py failed: boom"),
            "model-pose-256": _sub("model-pose-256", MODEL_TINY)}
    rows = [r for r in bench.build_rows(subs) if r["benchmark"].startswith("synthesize")
            and r["config"] == "pose-256"]
    assert len(rows) == 2
    assert all(r["throughput"] is None and "boom" in r["na"]["throughput"] for r in rows)


def test_report_json_and_table_text(bench):
    from rich.console import Console

    subs = {"model-tiny": _sub("model-tiny", MODEL_TINY),
            "train-tiny": _sub("train-tiny", None, error="timed out after 300 s")}
    report = bench.merge_report(_header(bench), subs)
    again = json.loads(json.dumps(report))  # JSON-serialisable, raw sub-results kept
    assert again["format"] == bench.FORMAT
    assert again["runs"]["model-tiny"]["data"] == MODEL_TINY
    assert again["header"]["versions"]["python"] == ".".join(map(str, sys.version_info[:3]))
    console = Console(record=True, width=300, file=io.StringIO())
    console.print(bench.build_table(report))
    text = console.export_text()
    assert "Test CPU, 2 cores" in text and "end 1.5/2.0/3.0" in text
    assert "10.00 frames/s" in text and "20.0" in text
    assert "n/a (timed out after 300 s)" in text

    subs["train-tiny"] = _sub("train-tiny", TRAIN)
    console.print(bench.build_table(bench.merge_report(_header(bench), subs)))
    text = console.export_text()
    assert "2.00 it/s" in text and "4.00 samples/s" in text
    assert "n/a (train.py: not counted)" in text


def test_render_saved_report(bench, tmp_path, capsys):
    report = bench.merge_report(_header(bench), {"model-tiny": _sub("model-tiny", MODEL_TINY)})
    path = tmp_path / "results.json"
    path.write_text(json.dumps(report))
    assert bench.main(["--render", str(path)]) == 0
    assert "generator step" in capsys.readouterr().err
    path.write_text("{}")
    assert bench.main(["--render", str(path)]) == 2


def test_cpu_model_and_plan(bench):
    assert bench.cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n") == "AMD EPYC 7B13"
    jobs = bench.plan(quick=True, device="cuda", threads=1)
    names = [j["name"] for j in jobs]
    assert names == ["extract-pose", "extract-face", "model-tiny", "model-pose-256",
                     "synthesize-tiny", "synthesize-pose-256", "train-tiny"]
    model = next(j for j in jobs if j["name"] == "model-tiny")["argv"]
    assert model[model.index("--modes") + 1] == "fp32,bf16" and "--threads" in model
    assert model[model.index("--ks") + 1] == "1,4"
    full = next(j for j in bench.plan(quick=False, device="cpu", threads=None)
                if j["name"] == "model-pose-256")["argv"]
    assert full[full.index("--modes") + 1] == "fp32,bf16,compiled"


def _model_result(mode, k, fps, ms, cpu_ms, amp):
    return {"preset": "tiny", "size": [128, 128], "batch": 1, "k": k, "device": "cpu",
            "mode": mode, "amp": amp, "default_amp": "bf16", "params_m": 4.2,
            "gflops_per_frame": 1.8 if k == 1 else 3.3, "fps": fps, "ms_per_frame": ms,
            "achieved_gflops_per_s": 50.0, "cpu_ms_per_frame": cpu_ms, "timed_steps": 5,
            "first_step_s": 90.0 if mode == "compiled" else 0.1}


def test_fast_path_columns_and_k_scaling_rows(bench):
    from rich.console import Console

    data = {"benchmark": "model", "results": [
        _model_result("fp32", 1, 25.0, 40.0, 40.0, "none"),
        _model_result("bf16", 1, 40.0, 25.0, 25.0, "bf16"),
        _model_result("compiled", 1, 50.0, 20.0, 20.0, "bf16"),
        _model_result("fp32", 4, 20.0, 50.0, 52.0, "none"),
        _model_result("bf16", 4, 30.0, 33.0, 34.0, "bf16")]}
    rows = bench.build_rows({"model-tiny": _sub("model-tiny", data)})
    step = next(r for r in rows if r["benchmark"] == "generator step" and "K1" in r["config"])
    assert step["throughput"] == 40.0  # the default path here: bf16
    assert step["modes"] == {"fp32": 25.0, "bf16": 40.0, "compiled": 50.0}
    k4 = next(r for r in rows if r["benchmark"] == "generator step" and "K4" in r["config"])
    assert k4["modes"] == {"fp32": 20.0, "bf16": 30.0} and "compiled" in k4["modes_na"]
    scaling = [r for r in rows if r["benchmark"] == "K-scaling"]
    tiny = {r["config"]: r["throughput"] for r in scaling if r["config"].startswith("tiny")}
    assert tiny == {"tiny 128x128 B1 fp32: K4 / K1 per frame": pytest.approx(1.25),
                    "tiny 128x128 B1 bf16: K4 / K1 per frame": pytest.approx(33 / 25)}
    assert any(r["config"] == "pose-256" and r["throughput"] is None for r in scaling)
    report = bench.merge_report(_header(bench), {"model-tiny": _sub("model-tiny", data)})
    console = Console(record=True, width=400, file=io.StringIO())
    console.print(bench.build_table(report))
    text = console.export_text()
    assert "fp32 eager" in text and "compiled" in text and "50.00" in text
    assert "n/a (not measured)" in text and "1.25" in text
