"""`v2v data synth | import | info` end to end with typer's CliRunner."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import v2vtool.cli.data  # noqa: F401  (registers `v2v data` even before COMMANDS lists it)
from v2vtool.cli.app import app
from v2vtool.io.clipdir import Clip

runner = CliRunner()


def test_synth_then_info_json(tmp_path):
    out = tmp_path / "ds"
    res = runner.invoke(app, ["data", "synth", "--out", str(out), "--identities", "3",
                              "--clips-per-identity", "1", "--frames", "8", "--size", "64",
                              "--seed", "1", "--test-identities", "1"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["data", "info", str(out), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    s = info["summary"]
    assert info["format"] == "v2v-synth/1"
    assert (s["identities"], s["clips"], s["frames"], s["sizes"]) == (3, 3, 24, ["64x64"])
    assert s["kinds"] == {"pose": 24} and s["detection_rate"]["overall"] == 1.0
    assert len(s["split"]["test"]) == 1 and not set(s["split"]["test"]) & set(s["split"]["train"])
    assert sum(s["views"].values()) == 24
    res = runner.invoke(app, ["data", "info", str(out)])  # human table
    assert res.exit_code == 0 and "identities" in res.output
    res = runner.invoke(app, ["data", "synth", "--out", str(tmp_path / "ab"), "--motion-from",
                              str(out / "id0000/clip00"), "--dataset", str(out),
                              "--identity", "id0002"])
    assert res.exit_code == 0, res.output
    assert Clip(tmp_path / "ab").meta["identity"] == "id0002"


def test_import_then_info(tmp_path):
    src = tmp_path / "dance"
    for i in range(2):
        (src / "images/s1").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((32, 32, 3), 99, np.uint8)).save(src / f"images/s1/f{i}.png")
        (src / "poses-openpose/s1").mkdir(parents=True, exist_ok=True)
        pose = [v for j in range(25) for v in (4.0 + j / 2, 3.0 + j, 0.9)]
        (src / f"poses-openpose/s1/f{i}_keypoints.json").write_text(json.dumps(
            {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": pose}]}))
    res = runner.invoke(app, ["data", "import", "--format", "openpose", str(src), "--out",
                              str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    info = json.loads(runner.invoke(app, ["data", "info", str(tmp_path / "out"),
                                          "--json"]).stdout)
    assert info["format"] == "v2v-import/1"
    assert info["summary"]["clips"] == 1 and info["summary"]["frames"] == 2
    assert info["clips"][0]["identity"] == "s1"


@pytest.mark.parametrize("args, needle", [
    (["data", "synth", "--out", "{tmp}/x", "--size", "32"], "--size"),
    (["data", "synth", "--out", "{tmp}/x", "--motion-from", "{tmp}"], "--dataset"),
    (["data", "info", "{tmp}/missing"], "not found"),
    (["data", "info", "{tmp}"], "no clip directories"),
    (["data", "import", "--format", "openpose", "{tmp}", "--out", "{tmp}/o"], "images/"),
    (["data", "import", "--format", "bvh", "{tmp}", "--out", "{tmp}/o"], "--format"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, args, needle):
    res = runner.invoke(app, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], res.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "o").exists()
