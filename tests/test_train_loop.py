"""Training loop: exact resume, checkpoint reload, every semantic kind, NaN guard, guards."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.test_train_data import make_clip
from v2vtool.config import apply_overrides, preset
from v2vtool.errors import UserError
from v2vtool.training import TrainingDiverged, TrainingInterrupted, train
from v2vtool.models.checkpoint import load_generator, resolve_checkpoint
from v2vtool.training.checkpoint import load_training_checkpoint
from v2vtool.training.runlog import read_metrics

TINY = ["generator.height=32", "generator.width=32", "generator.ngf=8", "generator.spade_hidden=16",
        "generator.flow_ngf=8", "generator.attention_channels=16", "generator.style_dim=16",
        "discriminator.ndf=8", "discriminator.n_layers=2", "train.batch_size=2", "train.k_max=2", "train.log_every=1",
        "train.single_frame_steps=2", "train.seq_double_every=1", "train.seq_len_start=2",
        "train.seq_len_max=3", "train.sample_every=0", "train.val_every=0",
        "train.checkpoint_every=1000", "data.example_window=4", "train.threads=1"]


def tiny_config(kind: str = "pose", *extra: str):
    return apply_overrides(preset("tiny"), TINY + [f"generator.kind={kind}", *extra])


def _kw():
    return dict(device="cpu", progress=False)


@pytest.fixture(scope="module")
def pose_set(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("train") / "set"
    clips = []
    for i in range(4):
        make_clip(root / f"c{i}", "pose", n=8, size=48, seed=i, identity=str(i))
        clips.append({"path": f"c{i}", "identity": str(i), "split": "test" if i == 3 else "train"})
    (root / "manifest.json").write_text(json.dumps({"clips": clips}))
    return root


def _losses(run: Path) -> dict[int, dict]:
    return {r["step"]: r for r in read_metrics(run, "train")}


def test_exact_resume_and_checkpoint_reload(pose_set, tmp_path):
    cfg = tiny_config("pose", "train.val_every=2")
    full = tmp_path / "full"
    train([pose_set], full, cfg, steps=4, **_kw())
    part = tmp_path / "part"
    with pytest.raises(TrainingInterrupted) as exc:
        train([pose_set], part, cfg, steps=4, stop_at=2, **_kw())
    assert exc.value.step == 2 and (exc.value.checkpoint / "trainer_state.json").is_file()
    assert resolve_checkpoint(part).name == "step-0000002"
    final = train([pose_set], part, cfg, resume=True, **_kw())
    assert final.name == "step-0000004"
    a, b = _losses(full), _losses(part)
    assert sorted(a) == sorted(b) == [1, 2, 3, 4]
    assert a[3]["seq_len"] == 2 and a[1]["seq_len"] == 1  # progressive schedule
    for step in (3, 4):
        for key, value in a[step].items():
            if isinstance(value, float) and key not in ("time", "it_s", "samples_s",
                                                        "samples_s_total"):
                assert b[step][key] == pytest.approx(value, rel=1e-6, abs=1e-7), (step, key)
    va = [r for r in read_metrics(full, "val")]
    vb = [r for r in read_metrics(part, "val")]
    assert [r["l1"] for r in va] == pytest.approx([r["l1"] for r in vb], rel=1e-6)
    # a reloaded checkpoint (EMA and raw) gives the same outputs as the uninterrupted run's
    torch.manual_seed(0)
    from v2vtool.data.synth.motion import sample_prior_keypoints

    kp = sample_prior_keypoints("pose", 4, 32, 32)
    x = dict(examples=torch.rand(1, 2, 3, 32, 32) * 2 - 1,
             example_semantics=torch.rand(1, 2, 3, 32, 32),
             semantics=torch.rand(1, 2, 3, 32, 32), example_keypoints=kp[None, :2],
             keypoints=kp[None, 2:])
    for ema in (True, False):
        ga = load_generator(full, prefer_ema=ema)
        gb = load_generator(final, prefer_ema=ema)
        assert ga.ema == ema and ga.sha256 == gb.sha256
        with torch.no_grad():
            ya, yb = ga.generator(**x).image, gb.generator(**x).image
        assert torch.equal(ya, yb) and ya.shape == (1, 2, 3, 32, 32)
    state = load_training_checkpoint(final).state
    assert state["step"] == 4 and state["format"] == "v2v-trainer/1"
    run = json.loads((part / "run.json").read_text())
    assert run["resumes"][0]["step"] == 2 and "enabled" in run["perceptual"]


def _carphone_face_clip(path: Path, data_dir: Path, n: int = 6) -> None:
    """Real frames (tests/data carphone, 176x144) + a 68-point face sketch per frame.

    tests/data has no extracted face clip dir; the landmarks are a synthetic face outline
    placed over the talking head (training only needs frames and keypoints to agree in size).
    """
    from tests.test_train_data import _face_person
    from v2vtool.io.clipdir import ClipWriter
    from v2vtool.io.video import open_video

    with open_video(data_dir / "carphone_pristine.mp4") as video, \
            ClipWriter(path, "face", fps=video.fps) as writer:
        for i, frame in enumerate(video):
            if i == n:
                break
            person = _face_person(i * 0.3, 64).transformed(np.float32(1.5), np.float32([40, 10]))
            writer.add(frame, keypoints=[person])
        writer.close(source="tests/data/carphone_pristine.mp4")


@pytest.mark.parametrize("kind", ["face", "edges", "segmentation"])
def test_every_kind_trains(tmp_path, kind, data_dir):
    if kind == "face":
        _carphone_face_clip(tmp_path / "data" / "c0", data_dir)
    else:
        make_clip(tmp_path / "data" / "c0", kind, n=6, size=40, seed=1)
    extra = ["generator.n_classes=5"] if kind == "segmentation" else []
    cfg = tiny_config(kind, "train.sample_every=2", *extra)
    ckpt = train([tmp_path / "data"], tmp_path / "run", cfg, steps=3, **_kw())
    recs = read_metrics(tmp_path / "run", "train")
    assert [r["step"] for r in recs] == [1, 2, 3]
    assert all(np.isfinite(r["g_total"]) for r in recs)
    assert (tmp_path / "run" / "samples" / "step-0000002.png").is_file()
    loaded = load_generator(ckpt)
    assert loaded.config.generator.kind == kind


def test_nonfinite_losses_stop_cleanly(pose_set, tmp_path, monkeypatch):
    from v2vtool.training import gan

    def nan_losses(self, batch, out):
        return {"l1": (out.image * float("nan")).mean()}

    monkeypatch.setattr(gan.GanPieces, "g_losses", nan_losses)
    cfg = tiny_config("pose", "train.max_bad_steps=2")
    with pytest.raises(TrainingDiverged, match=r"2 consecutive steps with non-finite "
                                               r"generator losses \(l1\)"):
        train([pose_set], tmp_path / "run", cfg, steps=5, **_kw())
    # it failed before its first checkpoint: the run leaves nothing behind (exit 2, no leftovers)
    assert not (tmp_path / "run").exists()



def test_one_nonfinite_step_is_skipped_on_the_device(pose_set, tmp_path, monkeypatch):
    """A NaN generator loss at step 2: the fused Adam step and the EMA update are skipped on
    the device (no host sync), the event is logged at the next flush, training goes on."""
    from safetensors.torch import load_file

    from v2vtool.training import gan

    real = gan.GanPieces.g_losses
    calls = []

    def sometimes_nan(self, batch, out):
        calls.append(1)
        terms = real(self, batch, out)
        if len(calls) == 2:
            terms["l1"] = terms["l1"] * float("nan")
        return terms

    monkeypatch.setattr(gan.GanPieces, "g_losses", sometimes_nan)
    cfg = tiny_config("pose", "train.checkpoint_every=1", "train.log_every=3")
    train([pose_set], tmp_path / "run", cfg, steps=3, **_kw())
    ckpts = tmp_path / "run" / "checkpoints"
    for name in ("generator.safetensors", "generator_ema.safetensors"):
        one = load_file(str(ckpts / "step-0000001" / name))
        two = load_file(str(ckpts / "step-0000002" / name))
        three = load_file(str(ckpts / "step-0000003" / name))
        params = [k for k in one if not k.endswith(("_u", "_v"))]  # not spectral-norm vectors
        assert all(torch.equal(one[k], two[k]) for k in params), \
            (name, [k for k in params if not torch.equal(one[k], two[k])])  # step 2 skipped
        assert any(not torch.equal(two[k], three[k]) for k in params), name  # step 3 trained
    events = [r for r in read_metrics(tmp_path / "run", "event") if r["event"] == "nonfinite"]
    assert [(e["step"], e["which"], e["terms"], e["consecutive"]) for e in events] == \
        [(2, "generator", ["l1"], 1)]
    assert [r["step"] for r in read_metrics(tmp_path / "run", "train")] == [3]

def test_guards(pose_set, tmp_path):
    cfg = tiny_config("pose")
    with pytest.raises(UserError, match="data directory not found"):
        train([tmp_path / "missing"], tmp_path / "r1", cfg, steps=1, **_kw())
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no training clip directories"):
        train([tmp_path / "empty"], tmp_path / "r2", cfg, steps=1, **_kw())
    with pytest.raises(UserError, match="shorter than the training window"):
        train([pose_set], tmp_path / "r3", tiny_config("pose", "train.seq_len_max=16"),
              steps=50, **_kw())
    with pytest.raises(UserError, match="does not match preset"):
        train([pose_set], tmp_path / "r4", tiny_config("face"), steps=1, **_kw())
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="not writable|is a file, not a folder"):
        train([pose_set], blocker / "run", cfg, steps=1, **_kw())
    with pytest.raises(UserError, match="checkpoint not found|not a checkpoint"):
        train([pose_set], tmp_path / "r5", cfg, resume=True, **_kw())
    assert not any((tmp_path / n).exists() for n in ("r1", "r2", "r3", "r4", "r5"))


def test_minutes_budget_and_bf16_autocast(pose_set, tmp_path):
    cfg = tiny_config("pose", "train.amp=bf16")
    ckpt = train([pose_set], tmp_path / "run", cfg, steps=50, minutes=1e-4, **_kw())
    assert ckpt.name == "step-0000001"  # stopped by the time budget after one step
    events = [r["event"] for r in read_metrics(tmp_path / "run", "event")]
    assert events[-2:] == ["time_budget", "end"]
    rec = read_metrics(tmp_path / "run", "train")[-1]
    assert np.isfinite(rec["g_total"])
    assert json.loads((tmp_path / "run" / "run.json").read_text())["amp"] == "bf16"


def test_restartable_run_dir(tmp_path):
    from v2vtool.training.setup import _restartable

    run = tmp_path / "run"
    run.mkdir()
    assert _restartable(run)
    (run / "config.json").write_text(preset("tiny").to_json())
    (run / "metrics.jsonl").write_text("")
    (run / "checkpoints").mkdir()
    assert _restartable(run)  # a run that died before its first checkpoint may start again
    (run / "checkpoints" / "step-0000001").mkdir()
    assert not _restartable(run)
    other = tmp_path / "docs"
    other.mkdir()
    (other / "thesis.tex").write_text("x")
    assert not _restartable(other)  # never train into an unrelated folder
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"my": "settings"}')
    assert not _restartable(mine)  # a config.json of the user's is not a run's
