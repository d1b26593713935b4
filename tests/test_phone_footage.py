"""Phone footage through the real CLI (issue 21, items 1-2): a portrait video stored landscape
with a -90 display matrix, a variable-frame-rate video, OpenPose folders with plain
(non-padded) names and a missing index. extract -> synthesize (the shipped weights/default) ->
evaluate keeps orientation and duration."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import v2vtool.cli.evaluate  # noqa: F401  (registers the commands)
import v2vtool.cli.extract  # noqa: F401
import v2vtool.cli.synthesize  # noqa: F401
from tests.phone_media import dancer_frames, stored_landscape, vfr_times, write_video
from v2vtool.cli import app
from v2vtool.io.clipdir import Clip
from v2vtool.io.keypoints import write_openpose_json
from v2vtool.io.video import open_video

N = 16  # frames per clip: seconds of mediapipe and of the tiny@128 generator on one core
runner = CliRunner()


def cli(*args) -> object:
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exit_code == 0 and "Traceback" not in res.output, res.output
    return res


@pytest.fixture(scope="module")
def phone(tmp_path_factory) -> Path:
    """portrait.mp4 (stored 128x96 + display matrix -90: upright 96x128, 15 fps), vfr.mp4
    (upright, bursts at 30 fps with pauses), upright/ (the true upright frames), and both
    extracted by `v2v extract` into clips/."""
    root = tmp_path_factory.mktemp("phone")
    upright = dancer_frames(N)
    write_video(root / "portrait.mp4", stored_landscape(upright), fps=15, display_rotation=-90)
    write_video(root / "vfr.mp4", upright, times=vfr_times(N))
    (root / "upright").mkdir()
    for i, f in enumerate(upright):
        Image.fromarray(f).save(root / "upright" / f"{i:06d}.png")
    cli("extract", root / "portrait.mp4", root / "vfr.mp4", "--kind", "pose", "--out",
        root / "clips")
    return root


def _times(path: Path) -> tuple[list[float], float]:
    """Frame times (s, from the first) and the container's duration, read back with PyAV."""
    with av.open(str(path)) as c:
        times = [float(f.time) for f in c.decode(video=0)]
        return [t - times[0] for t in times], c.duration / 1e6


def test_extract_reads_portrait_upright_and_records_it(phone):
    clip = Clip(phone / "clips" / "portrait")
    assert clip.size == (96, 128) and len(clip) == N
    assert clip.meta["rotation"] == {"degrees": -90, "mirrored": False,
                                     "source": "display matrix", "applied": True}
    assert clip.meta["vfr"] is False and "frame_times" not in clip.meta
    assert clip.fps == pytest.approx(15, rel=1e-3)
    upright = [f for f in open_video(phone / "upright")]
    assert np.abs(clip.frame(5).astype(int) - upright[5]).mean() < 3
    # the dancer stands: head above the hips in (nearly) every frame (sideways, they'd be level)
    standing = [f[0].pose[0, 1] + 20 < f[0].pose[8, 1] for f in clip.keypoints
                if f and f[0].pose[0, 2] > 0 and f[0].pose[8, 2] > 0]
    assert len(standing) >= N - 2 and all(standing)


def test_extract_records_vfr_frame_times(phone):
    clip = Clip(phone / "clips" / "vfr")
    times = vfr_times(N)
    assert clip.meta["vfr"] is True and clip.meta["frame_times"] == pytest.approx(times, abs=1e-3)
    assert clip.fps == pytest.approx((N - 1) / times[-1], rel=1e-3)  # the true mean, not 30
    assert clip.meta["declared_fps"] != pytest.approx(clip.fps, rel=1e-3)
    assert clip.timing.vfr and clip.timing.times == pytest.approx(times, abs=1e-3)


@pytest.mark.parametrize("driver,mode", [("vfr.mp4", "source-timestamps"),
                                         ("clips/vfr", "source-timestamps"),
                                         ("portrait.mp4", "constant")])
def test_synthesize_keeps_the_driver_timing(phone, tmp_path, driver, mode):
    out = tmp_path / "o.mp4"
    cli("synthesize", "-e", f"{phone}/clips/portrait:0", "-d", phone / driver, "--out", out,
        "--device", "cpu")
    side = json.loads(out.with_suffix(".json").read_text())
    src_times, src_duration = _times(phone / "vfr.mp4" if "vfr" in driver
                                     else phone / "portrait.mp4")
    out_times, out_duration = _times(out)
    timing = side["frame_timing"]
    assert timing["mode"] == mode and side["output"]["frames"] == N == len(out_times)
    one_frame = 1 / timing["fps"]
    assert abs(out_duration - src_duration) < one_frame
    assert abs(timing["duration"] - timing["driver_duration"]) < 1e-3
    assert out_times == pytest.approx(src_times, abs=2e-3 if mode == "constant" else 1e-3)
    assert side["driver"]["size"] == [96, 128]  # upright
    if driver == "portrait.mp4":
        assert side["driver"]["rotation"]["degrees"] == -90


def test_round_trip_rotated_and_vfr(phone, tmp_path):
    """extract (module fixture) -> synthesize -> evaluate, for the rotated and the VFR clip."""
    for name in ("portrait", "vfr"):
        out = tmp_path / f"{name}.mp4"
        cli("synthesize", "-e", f"{phone}/clips/{name}:0,8", "-d", phone / f"{name}.mp4",
            "--out", out, "--device", "cpu")
        metrics = tmp_path / f"{name}_metrics.json"
        cli("evaluate", "--generated", out, "--real", phone / "clips" / name, "--json", metrics)
        rep = json.loads(metrics.read_text())
        assert rep["metrics"]["reconstruction_frames"] == N
        assert np.isfinite(rep["metrics"]["psnr"])
        src_times, src_duration = _times(phone / f"{name}.mp4")
        out_times, out_duration = _times(out)
        assert len(out_times) == N and abs(out_duration - src_duration) < src_duration / N
        assert out_times == pytest.approx(src_times, abs=2e-3)  # each frame at its time
    # evaluate reads the rotated video upright: against the true upright frames it matches
    metrics = tmp_path / "upright.json"
    cli("evaluate", "--generated", phone / "portrait.mp4", "--real", phone / "upright",
        "--json", metrics)
    assert json.loads(metrics.read_text())["metrics"]["psnr"] > 35


# ---- OpenPose folders: natural order, missing index -------------------------------------------

@pytest.fixture(scope="module")
def openpose_dirs(heldout_clip, tmp_path_factory) -> Path:
    """The held-out clip's keypoints as OpenPose folders: padded names, plain names
    (0_keypoints.json ... 10_keypoints.json) and plain names with index 3 missing."""
    root = tmp_path_factory.mktemp("openpose")
    frames = Clip(heldout_clip).keypoints[:11]
    for name, fmt in (("padded", "{:012d}_keypoints.json"), ("plain", "{}_keypoints.json"),
                      ("gap", "{}_keypoints.json")):
        (root / name).mkdir()
        for i, f in enumerate(frames):
            if name != "gap" or i != 3:
                write_openpose_json(root / name / fmt.format(i), f)
    return root


def test_openpose_plain_names_read_in_natural_order(openpose_dirs, pose_ckpt, heldout_clip,
                                                    tmp_path):
    got = {}
    for name in ("padded", "plain"):
        cli("synthesize", "-e", f"{heldout_clip}:0", "-d", openpose_dirs / name, "--out",
            tmp_path / f"{name}.mp4", "--checkpoint", pose_ckpt, "--device", "cpu",
            "--frames-dir", tmp_path / name)
        got[name] = [np.asarray(Image.open(p)) for p in sorted((tmp_path / name).glob("*.png"))]
    assert len(got["plain"]) == 11
    assert all(np.array_equal(a, b) for a, b in zip(got["padded"], got["plain"]))


def test_openpose_missing_index_is_one_warning_and_in_the_sidecar(openpose_dirs, pose_ckpt,
                                                                  heldout_clip, tmp_path,
                                                                  caplog):
    out = tmp_path / "gap.mp4"
    with caplog.at_level(logging.WARNING):
        cli("synthesize", "-e", f"{heldout_clip}:0", "-d", openpose_dirs / "gap", "--out", out,
            "--checkpoint", pose_ckpt, "--device", "cpu")
    lines = [r.getMessage() for r in caplog.records if "missing frame" in r.getMessage()]
    assert lines == [f"driver {openpose_dirs / 'gap'}: 1 missing frame index (3) in a numbered "
                     "sequence; the previous frame is held in each place (frames are not "
                     "closed up)"]
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["driver"]["missing_frames"] == {"count": 1, "indices": [3]}
    assert side["output"]["frames"] == 11 and side["held_frames"] >= 1  # timing kept


def test_evaluate_reads_openpose_gap_as_an_empty_frame(openpose_dirs, caplog):
    from v2vtool.io.keypoints import read_openpose_dir

    with caplog.at_level(logging.WARNING):
        frames = read_openpose_dir(openpose_dirs / "gap")
    assert len(frames) == 11 and frames[3] == [] and all(frames[i] for i in (2, 4, 10))
    assert sum("1 missing frame index (3)" in r.getMessage() for r in caplog.records) == 1


def test_import_natural_order_and_missing_recorded(tmp_path, caplog):
    src = tmp_path / "src"
    (src / "images" / "a").mkdir(parents=True)
    (src / "poses-openpose" / "a").mkdir(parents=True)
    for i in (0, 1, 2, 4, 10):  # plain names, index 3 and 5..9 missing
        img = np.full((40, 48, 3), 10 * i, np.uint8)
        Image.fromarray(img).save(src / "images" / "a" / f"{i}.png")
        pose = []
        for j in range(25):
            pose += [10.0 + j, 5.0 + j, 0.9]
        (src / "poses-openpose" / "a" / f"{i}_keypoints.json").write_text(
            json.dumps({"version": 1.3, "people": [{"pose_keypoints_2d": pose}]}))
    with caplog.at_level(logging.WARNING):
        cli("data", "import", src, "--format", "openpose", "--out", tmp_path / "out")
    clip = Clip(tmp_path / "out" / "a")
    assert [int(clip.frame(i)[0, 0, 0]) for i in range(len(clip))] == [0, 10, 20, 40, 100]
    assert clip.meta["missing_frames"] == {"count": 6, "indices": [3, 5, 6, 7, 8, 9]}
    assert sum("6 missing frame indices" in r.getMessage() for r in caplog.records) == 1
