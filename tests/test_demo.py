"""`v2v demo` end to end (on a small untrained checkpoint, so the test does not depend on the
shipped weights' quality), and the shipped checkpoint's agreement with the code."""
import json
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from tests.pretrained_server import online  # noqa: F401 (fixture)
from v2vtool.cli import app
from v2vtool.config import apply_overrides, preset
from v2vtool.io.clipdir import Clip, ClipWriter
from v2vtool.models.build import build_generator
from v2vtool.models.checkpoint import load_config, load_generator, save_generator
from v2vtool.resources import source_root

EXAMPLES = source_root() / "examples"  # the clone's (tests run on a clone)
DEFAULT_WEIGHTS = source_root() / "weights" / "default"


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    cfg = apply_overrides(preset("tiny"), ["generator.ngf=8", "generator.height=128",
                                           "generator.width=128"])
    return save_generator(tmp_path_factory.mktemp("ckpt") / "small", cfg,
                          build_generator(cfg.generator))


def _short_examples(dst: Path, frames: int = 10) -> Path:
    """The shipped examples with the driver and truth cut to `frames` frames (test speed)."""
    dst.mkdir()
    for name in ("target_front.png", "target_back.png"):
        shutil.copy(EXAMPLES / name, dst / name)
    for name in ("driver", "truth"):
        clip = Clip(EXAMPLES / name)
        meta = {k: v for k, v in clip.meta.items() if k not in ("frame_count", "width",
                                                               "height", "fps", "kind")}
        with ClipWriter(dst / name, clip.kind, clip.fps) as w:
            for i in range(frames):
                w.add(clip.frame(i), clip.keypoints[i], clip.semantic(i), clip.mask(i))
            w.close(**meta)
    return dst


def test_demo_writes_videos_attention_and_metrics(tmp_path, small_checkpoint, monkeypatch,
                                                   online):
    """`online`: downloads allowed (to a refused local port): the demo still never tries."""
    from v2vtool.io import pretrained

    monkeypatch.setattr(pretrained, "find", lambda name: None)  # no LPIPS / FID file on disk
    out = tmp_path / "demo"
    examples = _short_examples(tmp_path / "examples")
    res = CliRunner().invoke(app, ["demo", "--out", str(out), "--checkpoint",
                                   str(small_checkpoint), "--device", "cpu",
                                   "--examples-dir", str(examples)])
    assert res.exit_code == 0, res.output
    for name in ("demo_k1.mp4", "demo_k2.mp4", "demo_side_by_side.mp4", "attention_k2.mp4",
                 "metrics.json"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    n_truth = len(Clip(examples / "truth"))
    assert set(metrics["cases"]) == {"demo_k1", "demo_k2"}
    for case in metrics["cases"].values():
        assert case["frames"] == n_truth
        assert 0 < case["metrics"]["psnr"] < 60
        assert "pose_error" in case["metrics"]
    for metric in ("fid", "lpips"):
        assert "this command does not download" in metrics["cases"]["demo_k1"]["skipped"][metric]


def test_demo_missing_checkpoint_is_one_line_exit_2(tmp_path):
    res = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "d"), "--checkpoint",
                                   str(tmp_path / "nope")])
    assert res.exit_code == 2
    assert "checkpoint not found" in res.output and "Traceback" not in res.output


@pytest.mark.skipif(not DEFAULT_WEIGHTS.exists(), reason="no shipped checkpoint yet")
def test_shipped_checkpoint_matches_the_code():
    """Fails when the architecture drifts from the shipped weights (strict load)."""
    cfg = load_config(DEFAULT_WEIGHTS)
    loaded = load_generator(DEFAULT_WEIGHTS)
    fresh = build_generator(cfg.generator).state_dict()
    got = loaded.generator.state_dict()
    assert set(fresh) == set(got)
    assert all(fresh[k].shape == got[k].shape for k in fresh)
    size = sum(p.stat().st_size for p in DEFAULT_WEIGHTS.glob("*.safetensors"))
    assert size <= 25 * 2**20


def test_evaluate_refuses_a_side_by_side_panel_video(tmp_path, small_checkpoint):
    examples = _short_examples(tmp_path / "examples", frames=4)
    out = tmp_path / "sbs.mp4"
    res = CliRunner().invoke(app, ["synthesize", "--examples", str(examples / "target_front.png"),
                                   "--driver", str(examples / "driver"), "--out", str(out),
                                   "--checkpoint", str(small_checkpoint), "--side-by-side",
                                   "--no-retarget"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["evaluate", "--generated", str(out), "--real",
                                   str(examples / "truth")])
    assert res.exit_code == 2 and "side-by-side" in res.output
