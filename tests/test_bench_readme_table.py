"""benchmarks/readme_table.py: the README's tables are generated from benchmark JSON rows."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "readme_table.py"


@pytest.fixture(scope="module")
def rt():
    return load_script(SCRIPT, "v2v_readme_table")


REAL = {"format": "v2v-benchmark-real/1", "protocol": {"view_height": 128}, "rows": [
    {"method": "model", "k": 1, "l1": 0.06012, "psnr": 19.84, "ssim": 0.7, "akd": 6.04,
     "mkr": 0.2213, "sharpness": 0.5, "ring_l1": 0.1},
    {"method": "model", "k": 2, "l1": 0.05, "psnr": 20.0, "ssim": 0.71, "akd": 5.0, "mkr": 0.1,
     "sharpness": 0.6, "ring_l1": 0.09},
    {"method": "copy", "k": 1, "l1": 0.074, "psnr": 17.8, "ssim": 0.6, "mkr": 0.11}],
    "cross": {"rows": [{"method": "model", "k": 1, "pose_error": 3.0,
                        "pose_missing_rate": 0.05, "identity": 0.3},
                       {"method": "driver-person", "k": 0, "identity": 0.8}]}}


def test_real_rows_to_markdown(rt, tmp_path, capsys):
    f = tmp_path / "r.json"
    f.write_text(json.dumps(REAL))
    rt.main([str(f), "--k", "1"])
    assert capsys.readouterr().out.splitlines() == [
        "| | K | L1 | PSNR | SSIM | AKD (px @128) | MKR | sharpness | ring L1 |",
        "|---|---|---|---|---|---|---|---|---|",
        "| model | 1 | 0.060 | 19.8 | 0.700 | 6.04 | 22.1 % | 0.50 | 0.100 |",
        "| copy | 1 | 0.074 | 17.8 | 0.600 | n/a | 11.0 % | n/a | n/a |"]


def test_labels_methods_columns_and_cross(rt, tmp_path):
    f = tmp_path / "r.json"
    f.write_text(json.dumps(REAL))
    md = rt.table([rt.load(f"{f}:today"), rt.load(f"{f}:trained")], methods=["model"],
                  columns=["l1", "akd"])
    assert md.splitlines()[2:] == ["| today model | 1 | 0.060 | 6.04 |",
                                   "| today model | 2 | 0.050 | 5.00 |",
                                   "| trained model | 1 | 0.060 | 6.04 |",
                                   "| trained model | 2 | 0.050 | 5.00 |"]
    cross = rt.table([rt.load(str(f))], section="cross", ks=[1]).splitlines()
    assert cross[0] == "| | K | pose error (px @128) | missing | identity (Hellinger) |"
    assert cross[2:] == ["| model | 1 | 3.00 | 5.0 % | 0.300 |",
                         "| driver-person | - | n/a | n/a | 0.800 |"]


def test_not_a_benchmark_json(rt, tmp_path):
    f = tmp_path / "m.json"
    f.write_text(json.dumps({"format": "v2v-metrics/1"}))
    with pytest.raises(SystemExit, match="not a `v2v evaluate --benchmark` JSON"):
        rt.load(str(f))
