"""Benchmark protocol on a tiny random checkpoint + the tiny synth set; limb-warp and prior-warp
baselines."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from v2vtool.io.clipdir import Clip
from v2vtool.io.keypoints import main_person
from v2vtool.models.generator import FewShotGenerator
from v2vtool.data.view import person_view

@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    from v2vtool.config import apply_overrides, preset
    from v2vtool.models.build import build_generator
    from v2vtool.models.checkpoint import save_generator

    cfg = apply_overrides(preset("tiny"), ["generator.height=64", "generator.width=64",
                                           "generator.ngf=8"])
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("ckpt") / "ck"
    save_generator(out, cfg, build_generator(cfg.generator))
    return out


@pytest.fixture(scope="module")
def tiny_keynet(tmp_path_factory):
    from v2vtool.metrics.keypoint_net import KeyNet, KeyNetConfig, save_keynet

    torch.manual_seed(0)
    cfg = KeyNetConfig()
    return save_keynet(tmp_path_factory.mktemp("kn") / "keypoints", KeyNet(cfg).eval(), cfg,
                       {"note": "random test weights"})


def test_plan_is_deterministic_and_spreads_views(synth_dataset):
    from v2vtool.benchmark import pick_examples, plan

    a, b = plan(synth_dataset, [1, 2, 4], 0), plan(synth_dataset, [1, 2, 4], 0)
    assert a == b and len(a) == 2
    for it in a:
        assert it["driver_clip"].split("/")[0] != it["identity"]
        views = Clip(synth_dataset / it["example_clip"]).meta["views"]
        picked = [views[i] for i in it["example_frames"]]
        assert len(set(it["example_frames"])) == 4
        assert len(set(picked[:3])) == min(3, len(set(views)))
    rng = np.random.default_rng(0)
    assert pick_examples(["front", "back", "side", "front"], 3, rng)[:1] == \
        pick_examples(["front", "back", "side", "front"], 1, np.random.default_rng(0))


def test_prior_warp_is_the_untrained_generator_with_its_masks_shut(synth_dataset):
    """The prior-warp baseline = the keypoint-prior generator before training with H switched
    off (ref mask 0) and no temporal warp: one implementation of "start at the prior"."""
    from v2vtool.config import apply_overrides, preset
    from v2vtool.metrics.prior_warp import prior_warp_frames
    from v2vtool.synthesis.stream import Synthesizer

    clip = Clip(next(p for p in sorted(synth_dataset.glob("**/meta.json"))).parent)
    cfg = apply_overrides(preset("tiny"), ["generator.height=64", "generator.width=64"])
    torch.manual_seed(0)
    g = FewShotGenerator(cfg.generator).eval()
    for head, v in ((g.flow_prev.mask_head, 100.0), (g.example_warp.refine.mask_head, -100.0)):
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.constant_(head.bias, v)
    synth = Synthesizer(g, cfg, [clip.frame(0), clip.frame(9)], [clip.keypoints[0], clip.keypoints[9]])
    drv = [[main_person(clip.keypoints[i])] for i in (3, 15, 20)]
    ours = [f.image for f in synth.run(drv, driver_size=clip.size, retarget=False)]
    fit = person_view("pose", cfg.data, clip.size, cfg.generator.size, drv)
    poses = [main_person(fit.keypoints(f)).pose for f in drv]
    assert synth.background is not None  # frames of one clip: one camera
    base = prior_warp_frames(synth.examples.images,
                             [main_person(f).pose for f in synth.examples.keypoints], poses,
                             background=synth.background, people=synth.examples.people,
                             plate=synth.plate)
    for a, b in zip(ours, base):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_limb_warp_identity_pose(synth_dataset):
    from v2vtool.metrics.limb_warp import limb_warp
    from v2vtool.metrics.reconstruction import psnr

    clip = Clip(next(synth_dataset.glob("id*/clip*")))
    img, mask = clip.frame(0), clip.mask(0)
    pose = main_person(clip.keypoints[0]).pose
    same = limb_warp(img, pose, mask, pose)
    other = limb_warp(img, pose, mask, main_person(clip.keypoints[12]).pose)
    assert psnr(same, img) > 25
    assert psnr(same, img) > psnr(other, img)


def test_benchmark_protocol(synth_dataset, tiny_ckpt, tiny_keynet):
    from v2vtool.benchmark import evaluate_generator
    from v2vtool.models.checkpoint import load_generator

    g = load_generator(tiny_ckpt)
    r1 = evaluate_generator(g.generator, g.config, synth_dataset, [1, 2], seed=0, max_frames=4,
                            keynet_dir=tiny_keynet, drift_frames=8)
    r2 = evaluate_generator(g.generator, g.config, synth_dataset, [1, 2], seed=0, max_frames=4,
                            keynet_dir=tiny_keynet, drift_frames=0)
    assert r1["rows"] == r2["rows"]  # deterministic given the seed; the drift run changes none
    assert "drift" not in r2
    rows = {(r["method"], r["k"]): r for r in r1["rows"]}
    assert set(rows) == {("model", 1), ("model", 2), ("copy", 1), ("copy", 2),
                         ("limb-warp", 1), ("limb-warp", 2), ("prior-warp", 1), ("prior-warp", 2),
                         ("truth", 0)}
    truth = rows[("truth", 0)]
    assert truth["psnr"] == 100.0 and truth["l1"] == 0.0
    assert truth["warp_error"] == pytest.approx(truth["warp_error_truth"])
    for key in ("psnr", "ssim", "l1", "warp_error"):
        assert np.isfinite(rows[("model", 1)][key])
    assert "pose_missing_rate" in rows[("model", 1)]
    assert rows[("copy", 1)]["psnr"] < 100
    # masked metrics on every row (the truth masks come from render_identity)
    assert truth["person_psnr"] == 100.0 and truth["ghost_l1"] == 0.0
    assert rows[("copy", 1)]["person_psnr"] < 100 and rows[("copy", 1)]["ghost_l1"] > 0
    assert all("person_psnr" in r and "ghost_l1" in r for r in r1["rows"])
    assert "psnr_drift" not in rows[("model", 1)]  # long-video rows: the drift driver only
    # the "other side": frames whose driver view differs from the first example's
    from v2vtool.benchmark import other_side_frames

    counts = [len(other_side_frames(Clip(synth_dataset / it["example_clip"]),
                                    it["example_frames"], Clip(synth_dataset / it["driver_clip"]),
                                    4)) for it in r1["per_identity"]]
    assert r1["other_side"]["frames"] == sum(counts) == sum(
        it["other_side_frames"] for it in r1["per_identity"])
    # drift: the long driver is generated (not cut by max_frames), model + baselines per K
    drift = r1["drift"]
    assert drift["frames"] == 8 and all(it["frames"] == 8 for it in drift["per_identity"])
    assert all(it["frames"] == 4 for it in r1["per_identity"])
    d = {(r["method"], r["k"]): r for r in drift["rows"]}
    assert set(d) == set(rows) - {("truth", 0)}
    for r in d.values():
        q = [r[f"psnr_q{i}"] for i in range(1, 5)]
        assert r["psnr_drift"] == pytest.approx(q[3] - q[0])
        assert min(q) <= r["psnr"] <= max(q)
    assert {it["driver_identity"] for it in drift["per_identity"]} <= set(
        json.loads((synth_dataset / "manifest.json").read_text())["identities"])


def test_other_side_scores_only_the_listed_frames():
    """The scorer's "other side" keys are PSNR / L1 over exactly the listed frames."""
    from v2vtool.benchmark import _Scorer, _Sequence

    truth = [np.full((8, 8, 3), 100, np.uint8) for _ in range(4)]
    gen = [t.copy() for t in truth]
    gen[2] = np.full((8, 8, 3), 110, np.uint8)  # only frame 2 is wrong
    seq = _Sequence([[]] * 4, (8, 8), truth, [np.zeros((8, 8), np.uint8)] * 4,
                    [np.zeros((25, 3), np.float32)] * 4)
    rows = tuple(m for m in __import__("v2vtool.metrics.table", fromlist=["x"]).METRICS
                 if m.name in ("psnr", "l1"))
    out = _Scorer(None, None, other=[2, 3])(gen, seq, rows)
    assert out["l1_other_side"] == pytest.approx(10 / 255 / 2, rel=1e-3)  # mean of frames 2, 3
    assert out["l1"] == pytest.approx(10 / 255 / 4, rel=1e-3)
    assert _Scorer(None, None)(gen, seq, rows).keys() == {"psnr", "l1"}


def test_benchmark_cli(synth_dataset, tiny_ckpt, tiny_keynet, tmp_path, monkeypatch):
    import v2vtool.cli.evaluate  # noqa: F401
    from v2vtool.cli.app import app
    from v2vtool.metrics import keypoint_net

    monkeypatch.setattr(keypoint_net, "default_dir", lambda: tiny_keynet)
    out = tmp_path / "bench.json"
    r = CliRunner().invoke(app, ["evaluate", "--benchmark", str(synth_dataset), "--checkpoint",
                                 str(tiny_ckpt), "--k", "1", "--json", str(out),
                                 "--max-frames", "3", "--drift-frames", "6"])
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    assert {r["method"] for r in res["rows"]} == {"model", "copy", "limb-warp", "prior-warp",
                                                 "truth"}
    assert "limb-warp" in r.output and "pose" in r.output and "truth" in r.output
    assert "person" in r.output and "ghost" in r.output
    assert "drift (6-frame driver)" in r.output and "q4" in r.output
    assert {r["method"] for r in res["drift"]["rows"]} == {"model", "copy", "limb-warp",
                                                           "prior-warp"}
    assert len(res["checkpoint_sha256"]) == 64
    r = CliRunner().invoke(app, ["evaluate", "--benchmark", str(synth_dataset), "--checkpoint",
                                 str(tiny_ckpt), "--k", "0"])
    assert r.exit_code == 2 and "--k" in r.output


@pytest.mark.parametrize("framing", ["crop", "full"])
def test_evaluate_synthesized_video(synth_dataset, tiny_ckpt, tiny_keynet, tmp_path,
                                    monkeypatch, framing):
    """`v2v evaluate` on a `synthesize` output: reconstruction against the identity rendered on
    the driver's motion, temporal figures, and pose error with the keynet (auto for synth
    drivers), all in the synthesizer's frame (the sidecar's view: the truth cropped by its crop
    box for crop framing, only resized for full framing)."""
    import v2vtool.cli.evaluate  # noqa: F401
    from v2vtool.cli.app import app
    from v2vtool.data.synth import read_manifest, render_motion_clip
    from v2vtool.metrics import keypoint_net
    from v2vtool.synthesis import synthesize

    monkeypatch.setattr(keypoint_net, "default_dir", lambda: tiny_keynet)
    test = read_manifest(synth_dataset)["test"]
    ex, drv = synth_dataset / test[0] / "clip00", synth_dataset / test[1] / "clip00"
    out = tmp_path / "out.mp4"
    synthesize([f"{ex}:0,5"], drv, out, checkpoint=tiny_ckpt, retarget=False, device="cpu",
               framing=framing)
    truth = render_motion_clip(synth_dataset, test[0], drv, tmp_path / "truth")
    r = CliRunner().invoke(app, ["evaluate", "-g", str(out), "--real", str(truth), "--driver",
                                 str(drv), "--json", str(tmp_path / "m.json")])
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "m.json").read_text())
    m = rep["metrics"]
    assert m["pose_estimator"] == "keynet" and m["pose_frames"] == 24
    assert 5 < m["psnr"] < 40 and m["warp_error"] > 0 and m["warp_flow_source"] == "real"
    # the truth clip has person masks: masked metrics and the per-quarter PSNR
    assert 0 < m["person_psnr"] < 100 and 0 < m["ghost_l1"] < 1
    assert m["psnr_drift"] == pytest.approx(m["psnr_q4"] - m["psnr_q1"])
    note = "cropped like the driver" if framing == "crop" else "full framing"
    assert any(note in n for n in rep["notes"]), rep["notes"]
    assert any("view from the synthesis sidecar" in n for n in rep["notes"])
    assert "fid" in rep["skipped"] or "fid" in m
