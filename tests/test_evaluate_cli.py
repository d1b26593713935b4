"""`v2v evaluate` end to end on small PNG sequences: metrics, skipped reasons, JSON, compare."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import v2vtool.cli.evaluate  # noqa: F401  (registers the command)
from v2vtool.cli.app import app
from v2vtool.io import pretrained
from v2vtool.io.keypoints import Person, write_jsonl
from v2vtool.metrics import fid as fidm



def _frames(n=5, size=64, noise=0, seed=0):
    rng = np.random.default_rng(seed)
    tex = np.random.default_rng(1).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    out = []
    for t in range(n):
        f = np.zeros((size, size, 3), np.uint8)
        f[:] = (np.arange(size)[None, :, None] * 3).astype(np.uint8)
        f[20:40, 10 + 2 * t:30 + 2 * t] = tex
        if noise:
            f = np.clip(f.astype(int) + rng.integers(-noise, noise + 1, f.shape), 0, 255)
        out.append(f.astype(np.uint8))
    return out


def _write_dir(path, frames):
    path.mkdir(parents=True)
    for i, f in enumerate(frames):
        Image.fromarray(f).save(path / f"{i:06d}.png")
    return path


@pytest.fixture
def no_weights(monkeypatch):
    """No LPIPS / FID weights on disk (and, as in every test, offline: tests/conftest.py)."""
    monkeypatch.setattr(pretrained, "find", lambda name: None)


def test_evaluate_unavailable_fid_and_lpips(tmp_path, no_weights):
    real = _write_dir(tmp_path / "real", _frames())
    gen = _write_dir(tmp_path / "gen", _frames(noise=20))
    out = tmp_path / "m.json"
    r = CliRunner().invoke(app, ["evaluate", "--generated", str(gen), "--real", str(real),
                                 "--json", str(out)])
    assert r.exit_code == 0, r.output
    rep = json.loads(out.read_text())
    m = rep["metrics"]
    assert 15 < m["psnr"] < 40 and 0 < m["ssim"] < 1 and m["l1"] > 0
    assert m["warp_error"] > m["warp_error_reference"]
    assert "fid" not in m and "lpips" not in m
    assert "pt_inception-2015-12-05-6726825d.pth" in rep["skipped"]["fid"]
    assert "alexnet-owt-7be5be79.pth" in rep["skipped"]["lpips"]
    assert "pt_inception-2015-12-05-6726825d.pth" in r.output  # told loudly on stderr
    assert rep["skipped"]["pose_error"].startswith("needs --driver")
    assert len(rep["inputs"]["generated"]["sha256"]) == 64 and "torch" in rep["versions"]


def test_evaluate_fid_with_weights_and_pose_from_jsonl(tmp_path, monkeypatch):
    real = _write_dir(tmp_path / "real", _frames())
    gen = _write_dir(tmp_path / "gen", _frames())
    w = tmp_path / fidm.FID_WEIGHTS_FILE
    torch.manual_seed(0)
    torch.save(fidm.build_fid_inception().state_dict(), w)
    # driver poses + an estimator that returns exactly them: pose error 0
    rng = np.random.default_rng(0)
    poses = [np.concatenate([rng.uniform(0, 64, (25, 2)), np.ones((25, 1))], 1).astype(np.float32)
             for _ in range(5)]
    drv = tmp_path / "drv.jsonl"
    write_jsonl(drv, [[Person(pose=p)] for p in poses])  # (stored rounded)
    it = iter(poses)

    class Oracle:
        name, joints = "oracle", tuple(range(25))

        def __call__(self, rgb):
            return next(it)

    import v2vtool.metrics.estimators as est
    monkeypatch.setattr(est, "get_pose_estimator", lambda name, d=None: Oracle())
    r = CliRunner().invoke(app, ["evaluate", "-g", str(gen), "--real", str(real), "--driver",
                                 str(drv), "--fid-weights", str(w)])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout[r.stdout.index("{"):])
    assert rep["metrics"]["fid"] < 1e-3 and rep["metrics"]["fid_official_weights"] is False
    assert rep["metrics"]["pose_error"] < 0.05 and rep["metrics"]["pose_missing_rate"] == 0.0
    assert rep["metrics"]["psnr"] == 100.0


def test_evaluate_compare_and_errors(tmp_path, no_weights):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"metrics": {"psnr": 20.0, "fid": 3.0}}))
    b.write_text(json.dumps({"metrics": {"psnr": 25.0}}))
    r = CliRunner().invoke(app, ["evaluate", "--compare", str(a), str(b)])
    assert r.exit_code == 0, r.output
    assert "25" in r.output and "a.json" in r.output and "b.json" in r.output
    r = CliRunner().invoke(app, ["evaluate", "--generated", str(tmp_path / "missing.mp4")])
    assert r.exit_code == 2 and "missing.mp4" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    r = CliRunner().invoke(app, ["evaluate", "--compare", str(bad)])
    assert r.exit_code == 2 and "bad.json" in r.output
