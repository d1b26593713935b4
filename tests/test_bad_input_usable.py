"""Odd inputs that stay usable (issue 21, items 3-10): through the real CLI, exit 0, no
traceback, the warning or note that says what was odd, and the right output. The refusals of
the same items are rows of the table in tests/test_bad_input.py; the world is tests/bad_world.py.
"""
from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from tests.bad_world import build, diff, snapshot
from tests.test_bad_input import check_refused
from v2vtool.cli import app

SYN = ["synthesize", "--checkpoint", "ckpt", "--device", "cpu", "-e", "clip:0"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build(tmp_path_factory.mktemp("uworld") / "w")


def run(world, monkeypatch, argv):
    monkeypatch.chdir(world)
    res = CliRunner().invoke(app, [str(a) for a in argv])
    assert res.exit_code == 0 and "Traceback" not in res.output, res.output
    return res


def _warnings(res) -> list[str]:
    return [ln for ln in res.output.splitlines() if ln.startswith("warning:")]


def _json_out(res) -> dict:
    return json.loads(res.stdout[res.stdout.index("{"):])


# ---- 3. clip dirs against their files: `data info` reports what is on disk -------------------

def test_data_info_reports_frames_on_disk(world, monkeypatch):
    before = snapshot(world)
    res = run(world, monkeypatch, ["data", "info", "clip_missing", "--json"])
    (line,) = _warnings(res)
    assert "clip_missing: meta.json says 12 frames, 6 of them on disk" in line
    info = _json_out(res)
    assert info["summary"]["frames"] == 6 and info["clips"][0]["meta_frames"] == 12
    assert info["clips"][0]["problems"] and info["problems"]
    table = run(world, monkeypatch, ["data", "info", "clip_missing"]).output
    assert re.search(r"│ frames\s+│ 6\s+│", table), table
    res = run(world, monkeypatch, ["data", "info", "clip_wide", "--json"])
    assert "000003.png: image is 100x40, meta.json says 64x64" in _warnings(res)[0]
    assert diff(before, snapshot(world)) == []


def test_data_info_counts_the_manifests_clips_on_disk(world, monkeypatch):
    res = run(world, monkeypatch, ["data", "info", "set_gone", "--json"])
    (line,) = _warnings(res)
    assert "manifest.json: lists 8 clips, 7 of them on disk (missing: id" in line
    s = _json_out(res)["summary"]
    assert (s["clips"], s["manifest_clips"], s["frames"]) == (7, 8, 7 * 12)
    table = run(world, monkeypatch, ["data", "info", "set_gone"]).output
    assert "7 (manifest.json lists 8)" in table


def test_extra_frames_are_a_warning_not_an_error(world, monkeypatch):
    from v2vtool.io.clipdir import check_clip_files, verify_clip

    res = run(world, monkeypatch, ["data", "info", "clip_extra", "--json"])
    assert "2 frame(s) on disk beyond the 12 meta.json counts (not used)" in _warnings(res)[0]
    assert _json_out(res)["clips"][0]["frames"] == 14
    check = verify_clip(world / "clip_extra")
    assert check.errors == [] and len(check.warnings) == 1
    assert check_clip_files(world / "clip_extra").warnings == check.warnings  # train: warned
    good = verify_clip(world / "clip")
    assert (good.frames, good.size, good.keypoint_lines, good.errors, good.warnings) == (
        12, (64, 64), 12, [], [])


def test_clip_writer_checks_what_it_wrote(tmp_path, monkeypatch):
    """The writer's own check (import, extract, data synth): a clip whose files disagree with
    the meta.json it is about to get is never put in place."""
    import v2vtool.io.clipdir as cd
    from v2vtool.errors import UserError

    real = cd.verify_clip

    def lose_a_frame(path, sizes=True):
        (Path(path) / "frames" / "000001.png").unlink()
        return real(path, sizes)

    monkeypatch.setattr(cd, "verify_clip", lose_a_frame)
    w = cd.ClipWriter(tmp_path / "c", "edges", 10)
    for _ in range(3):
        w.add(np.zeros((8, 8, 3), np.uint8), semantic=np.zeros((8, 8), np.uint8))
    with pytest.raises(UserError, match=r"c: meta.json says 3 frames, 2 of them on disk"):
        w.close()
    assert list(tmp_path.iterdir()) == []
    w = cd.ClipWriter(tmp_path / "d", "edges", 10)
    w.add(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(UserError, match="frame 1 is 9x8, the clip's earlier frames are 8x8"):
        w.add(np.zeros((8, 9, 3), np.uint8))
    w.abort()


# ---- 4. checkpoint sanity: real checkpoints still load ---------------------------------------

def test_shipped_and_fresh_checkpoints_load(world):
    """The rule (io/weights.check_plausible) refuses blanked / quantised files, not the
    constant-by-design tensors of an untrained model (zero-initialised heads)."""
    from v2vtool.models.checkpoint import load_generator
    from v2vtool.resources import find_weights

    shipped = load_generator(find_weights("default"))
    fresh = load_generator(world / "ckpt")  # build_generator's init, saved as is
    zero_heads = [k for k, v in fresh.generator.state_dict().items()
                  if v.is_floating_point() and v.numel() > 1 and not v.any()]
    assert zero_heads  # the fresh model has all-zero tensors by design, and loads
    assert shipped.generator is not None


# ---- 5. keypoints more than one frame size outside the frame ---------------------------------

def test_far_keypoints_are_counted_in_the_sidecar(world, monkeypatch, tmp_path):
    res = run(world, monkeypatch, [*SYN, "-d", "clip_somefar", "--out", tmp_path / "o.mp4"])
    side = json.loads((tmp_path / "o.json").read_text())
    assert side["implausible_keypoints"] == 12  # one per frame
    assert side["held_frames"] == 0 and side["output"]["frames"] == 12
    assert "far keypoints" in res.output
    run(world, monkeypatch, [*SYN, "-d", "clip", "--out", tmp_path / "p.mp4"])
    assert json.loads((tmp_path / "p.json").read_text())["implausible_keypoints"] == 0


def test_far_keypoints_in_an_import_are_missing_joints(world, monkeypatch, tmp_path):
    from v2vtool.io.clipdir import Clip

    res = run(world, monkeypatch, ["data", "import", "src_somefar", "--format", "openpose",
                                   "--out", tmp_path / "imp"])
    assert "1 keypoint(s) more than one frame size outside their image" in res.output
    clip = Clip(tmp_path / "imp" / "seq")
    assert clip.meta["implausible_keypoints"] == 1 and clip.meta["detection_rate"] == 1.0
    assert clip.keypoints[0][0].pose[0].tolist() == [0.0, 0.0, 0.0]  # a missing joint
    assert json.loads((tmp_path / "imp" / "manifest.json").read_text())["clips"][0][
        "frames"] == 3


# ---- 7. outputs commit together; stale temporaries go -----------------------------------------

def test_synthesize_removes_stale_temporaries_of_its_outputs(world, monkeypatch, tmp_path):
    stale = [tmp_path / ".o.mp4.tmp-0badf00d.mp4", tmp_path / ".o.json.tmp-12345678.json",
             tmp_path / ".o.mp4.old-abcdef01"]
    for p in stale:
        p.write_bytes(b"left by a killed run")
    (tmp_path / ".f.tmp-0badf00d").mkdir()
    (tmp_path / ".f.tmp-0badf00d" / "000000.png").write_bytes(b"x")
    other = tmp_path / ".other.mp4.tmp-0badf00d.mp4"  # another output's: not ours to remove
    other.write_bytes(b"x")
    run(world, monkeypatch, [*SYN, "-d", "clip", "--out", tmp_path / "o.mp4", "--frames-dir",
                             tmp_path / "f"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, "f", "o.json", "o.mp4"]


def test_a_failed_sidecar_keeps_the_old_outputs(world, monkeypatch, tmp_path):
    """A failure renaming the sidecar into place: the new mp4 and frames are taken back, the old
    pair (and frames) stays exactly as it was, and nothing else is left."""
    from v2vtool.synthesis import outputs

    argv = [*SYN, "-d", "clip", "--out", tmp_path / "o.mp4", "--frames-dir", tmp_path / "f"]
    run(world, monkeypatch, argv)
    before = snapshot(tmp_path)

    def refuse(self):
        raise OSError(errno.EACCES, "Permission denied", str(self.path))

    monkeypatch.setattr(outputs.PendingText, "commit", refuse)
    monkeypatch.chdir(world)
    other = [*SYN, "-d", "clip_somefar", *argv[len(SYN) + 2:]]  # other frames, same outputs
    res = CliRunner().invoke(app, [str(a) for a in other])
    check_refused(res, r"o\.json: permission denied")
    assert diff(before, snapshot(tmp_path)) == []


def test_commit_together_all_or_none(tmp_path):
    from v2vtool.io.atomic import commit_together

    class Out:
        def __init__(self, name, fail=False):
            self.path, self.tmp, self.fail = tmp_path / name, tmp_path / f".{name}.tmp", fail
            self.tmp.write_text("new")

        def commit(self):
            if self.fail:
                raise OSError(errno.EIO, "I/O error", str(self.path))
            os.replace(self.tmp, self.path)
            return self.path

    for name in ("a.mp4", "a.json"):
        (tmp_path / name).write_text("old")
    outs = [Out("a.mp4"), Out("b.png"), Out("a.json", fail=True)]
    with pytest.raises(OSError):
        commit_together(outs)
    assert {p.name: p.read_text() for p in tmp_path.iterdir() if not p.name.endswith(".tmp")
            } == {"a.mp4": "old", "a.json": "old"}
    outs[2].fail = False
    outs[0].tmp.write_text("new")
    outs[1].tmp.write_text("new")
    commit_together(outs)
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {
        "a.mp4": "new", "b.png": "new", "a.json": "new"}


# ---- 9. evaluate on tiny frames; --compare never shows nan -------------------------------------

@pytest.fixture(scope="module")
def metric_weights(tmp_path_factory):
    """Randomly initialised FID Inception / LPIPS AlexNet files (so both metrics are loaded)."""
    import torchvision

    from v2vtool.metrics import fid as fidm

    d = tmp_path_factory.mktemp("mw")
    torch.manual_seed(0)
    torch.save(fidm.build_fid_inception().state_dict(), d / fidm.FID_WEIGHTS_FILE)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), d / "alex.pth")
    return d / fidm.FID_WEIGHTS_FILE, d / "alex.pth"


@pytest.mark.parametrize("side", [1, 8])
def test_evaluate_on_tiny_frames(tmp_path, monkeypatch, metric_weights, side):
    rng = np.random.default_rng(side)
    for name in ("g", "r"):
        (tmp_path / name).mkdir()
        for i in range(5):
            Image.fromarray(rng.integers(0, 255, (side, side, 3), np.uint8)).save(
                tmp_path / name / f"{i:06d}.png")
    fid_w, alex = metric_weights
    res = run(tmp_path, monkeypatch, ["evaluate", "--generated", "g", "--real", "r",
                                      "--fid-weights", fid_w, "--lpips-backbone", alex])
    rep = _json_out(res)
    for name, need in (("fid", 32), ("lpips", 32), ("warp_error", 12)):
        assert rep["skipped"][name].endswith(
            f"frames of {side}x{side} px are smaller than the {need} px per side it needs")
    assert "psnr" in rep["metrics"] and "l1" in rep["metrics"]
    if side == 1:
        assert "smaller than the 3 px" in rep["skipped"]["ssim"]
    else:
        assert -1 <= rep["metrics"]["ssim"] <= 1


def test_compare_shows_no_nan(tmp_path, monkeypatch):
    (tmp_path / "a.json").write_text('{"metrics": {"psnr": NaN, "fid": Infinity, '
                                     '"l1": -Infinity, "ssim": 0.5}}')
    (tmp_path / "b.json").write_text('{"metrics": {"psnr": 20.0, "fid": "inf"}}')
    res = run(tmp_path, monkeypatch, ["evaluate", "--compare", "a.json", "b.json"])
    rows = [ln for ln in res.output.splitlines() if ln.startswith("│")]
    cells = [c.strip().lower() for ln in rows for c in ln.strip("│").split("│")]
    assert not {"nan", "inf", "-inf", "infinity", "-infinity"} & set(cells), res.output
    assert [c for c in cells if c not in ("psnr", "fid", "l1", "ssim")] == [
        "-", "20", "-", "-", "-", "-", "0.5", "-"]
    notes = [ln for ln in res.output.splitlines() if ln.startswith("note:")]
    assert len(notes) == 4 and "note: a.json: psnr is nan (not a finite number): shown as -" in notes


# ---- 10. cost: said up front; a model above the cap needs --allow-large ----------------------

def test_cost_line_and_allow_large(world, monkeypatch, tmp_path):
    from v2vtool.synthesis import api

    res = run(world, monkeypatch, [*SYN, "-d", "clip", "--out", tmp_path / "o.mp4"])
    (line,) = [ln for ln in res.output.splitlines() if ln.startswith("expected cost:")]
    assert line.endswith(" for 12 frames") and " s per frame (first frame)" in line
    monkeypatch.setattr(api, "LARGE_MODEL_PIXELS", 32 * 32)  # the 64x64 test model is "large"
    monkeypatch.chdir(world)
    before = snapshot(tmp_path)
    res = CliRunner().invoke(app, [str(a) for a in [*SYN, "-d", "clip", "--out",
                                                    tmp_path / "p.mp4"]])
    check_refused(res, "64x64 frames, above the 32x32-pixel cap")
    assert diff(before, snapshot(tmp_path)) == []
    run(world, monkeypatch, [*SYN, "-d", "clip", "--out", tmp_path / "p.mp4", "--allow-large"])
    assert (tmp_path / "p.mp4").is_file()
