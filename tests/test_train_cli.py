"""`v2v train` end to end: CLI on the synthetic benchmark, SIGTERM -> checkpoint, 2-process DDP."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.test_train_loop import TINY
from v2vtool.cli import app
from v2vtool.models.checkpoint import resolve_checkpoint
from v2vtool.training.checkpoint import load_training_checkpoint
from v2vtool.training.runlog import read_metrics

SETS = [a for s in TINY for a in ("--set", s)]


def test_cli_end_to_end(synth_dataset, tmp_path):
    run = tmp_path / "run"
    res = CliRunner().invoke(app, ["train", "--data", str(synth_dataset), "--preset", "tiny",
                                   "--out", str(run), "--steps", "3", "--device", "cpu", *SETS,
                                   "--set", "train.sample_every=3", "--set", "train.val_every=3"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert Path(out["checkpoint"]) == run / "checkpoints" / "step-0000003"
    assert json.loads((run / "config.json").read_text())["train"]["steps"] == 3
    assert resolve_checkpoint(run) == (run / "checkpoints" / "step-0000003").resolve()
    assert (run / "samples" / "step-0000003.png").is_file()
    val = read_metrics(run, "val")
    assert val and {"l1", "psnr", "baseline_l1", "baseline_psnr"} <= set(val[-1])
    assert val[-1]["items"] >= 2  # held-out identities of the manifest
    manifest = json.loads((synth_dataset / "manifest.json").read_text())
    run_meta = json.loads((run / "run.json").read_text())
    n_train = sum(c["split"] == "train" for c in manifest["clips"])
    assert run_meta["train_clips"] == n_train and run_meta["val_clips"] == len(
        manifest["clips"]) - n_train
    # guards through the CLI: one line, exit 2
    res = CliRunner().invoke(app, ["train", "--data", str(tmp_path / "nope"), "--out",
                                   str(tmp_path / "r2"), "--steps", "1"])
    assert res.exit_code == 2 and "error:" in res.output and "not found" in res.output
    res = CliRunner().invoke(app, ["train", "--data", str(synth_dataset), "--preset",
                                   "face-256", "--out", str(tmp_path / "r3"), "--steps", "1"])
    assert res.exit_code == 2 and "does not match preset 'face-256'" in res.output
    res = CliRunner().invoke(app, ["train", "--data", str(synth_dataset), "--out", str(run),
                                   "--steps", "1"])
    assert res.exit_code == 2 and "not empty" in res.output
    # --data takes several dirs after one flag
    res = CliRunner().invoke(app, ["train", "--data", str(synth_dataset), str(tmp_path / "x2"),
                                   "--out", str(tmp_path / "r4"), "--steps", "1"])
    assert res.exit_code == 2 and "x2: data directory not found" in res.output


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).parents[1]))
    return env


def test_sigterm_saves_then_exits(synth_dataset, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "v2vtool.cli", "train", "--data", str(synth_dataset),
           "--out", str(run), "--steps", "500", "--device", "cpu", *SETS]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:
        metrics = run / "metrics.jsonl"
        if metrics.is_file() and '"type": "train"' in metrics.read_text():
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err.decode()
    assert b"interrupted" in err and b"--resume" in err
    ckpt = load_training_checkpoint(run)
    steps = [r["step"] for r in read_metrics(run, "train")]
    assert ckpt.state["step"] == steps[-1] >= 1
    assert [r["event"] for r in read_metrics(run, "event")][-1] == "interrupted"


def test_ddp_two_gloo_processes(synth_dataset, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "v2vtool.cli", "train", "--data", str(synth_dataset),
           "--out", str(run), "--steps", "2", "--device", "cpu", "--nproc", "2", *SETS]
    res = subprocess.run(cmd, env=_env(), capture_output=True, timeout=180)
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    recs = read_metrics(run, "train")
    assert [r["step"] for r in recs] == [1, 2] and all(r["world_size"] == 2 for r in recs)
    assert all(r["samples_s_total"] == pytest.approx(sum(r["samples_s_per_rank"])) for r in recs)
    assert all(len(r["samples_s_per_rank"]) == 2 and min(r["samples_s_per_rank"]) > 0 for r in recs)
    state = load_training_checkpoint(run).state
    assert state["step"] == 2 and state["sampler"]["world_size"] == 2
    assert json.loads((run / "run.json").read_text())["world_size"] == 2
    # rank 0 wrote one copy of every record: no duplicated steps
    assert len(recs) == 2


def test_init_starts_from_a_checkpoints_weights_at_another_size(synth_dataset, tmp_path):
    """train --init: the new run's generator starts as the checkpoint's (any frame size: here
    a 64 px checkpoint into a 32 x 96 run), recorded in run.json; another architecture is one
    error line and nothing is written."""
    import torch

    from tests.conftest import SMALL, make_checkpoint
    from v2vtool.models.checkpoint import load_generator

    from v2vtool.models.checkpoint import save_generator

    made = load_generator(make_checkpoint(tmp_path / "made"))
    with torch.no_grad():  # unlike any fresh initialisation (same seed, same architecture)
        for p in made.generator.parameters():
            p.add_(0.01 * torch.randn_like(p))
    src = save_generator(tmp_path / "src", made.config, made.generator)
    sets = [a for s in SMALL if "height" not in s and "width" not in s for a in ("--set", s)]
    run = tmp_path / "run"
    res = CliRunner().invoke(app, ["train", "--data", str(synth_dataset), "--out", str(run),
                                   "--steps", "1", "--device", "cpu", "--init", str(src), *sets,
                                   "--set", "generator.height=96", "--set", "generator.width=32",
                                   "--set", "discriminator.ndf=8", "--set",
                                   "discriminator.n_layers=2", "--set", "train.threads=1",
                                   "--set", "train.lr_g=1e-12", "--set", "train.ema=0",
                                   "--set", "train.batch_size=1", "--set",
                                   "train.sample_every=0", "--set", "train.val_every=0"])
    assert res.exit_code == 0, res.output
    meta = json.loads((run / "run.json").read_text())
    assert meta["init"]["path"] == str(src.resolve()) and meta["init"]["size"] == [64, 64]
    ours = dict(load_generator(run).generator.named_parameters())
    theirs = dict(load_generator(src).generator.named_parameters())
    assert ours.keys() == theirs.keys()
    for name, t in theirs.items():  # one step at lr 1e-12: still the init (spectral norm's
        torch.testing.assert_close(ours[name], t, atol=1e-6, rtol=0, msg=name)  # u: a buffer)
    bad = tmp_path / "bad"
    res = CliRunner().invoke(app, ["train", "--data", str(synth_dataset), "--out", str(bad),
                                   "--steps", "1", "--init", str(src), *sets,
                                   "--set", "generator.ngf=16"])
    assert res.exit_code == 2 and "generator.ngf" in res.output and not bad.exists()
    res = CliRunner().invoke(app, ["train", "--data", str(synth_dataset), "--out", str(run),
                                   "--resume", "--init", str(src)])
    assert res.exit_code == 2 and "--init" in res.output
