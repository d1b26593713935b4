"""The mechanisms behind "never destroy, never crash": output guard, run-dir lock, atomic
writes that clean up after themselves, OSError -> one line, image and keypoint validation."""
from __future__ import annotations

import errno
import json
import os

import numpy as np
import pytest
from PIL import Image

from v2vtool.errors import UserError, os_error_message
from v2vtool.io.atomic import atomic_dir, atomic_path, make_parents, remove_created
from v2vtool.io.guard import (check_distinct, check_outputs, check_replaceable, is_clip_output,
                              is_marked_output, write_marker)
from v2vtool.io.lock import DirLock


def test_output_guard_is_contains_inside(tmp_path):
    video = tmp_path / "in.mp4"
    video.write_bytes(b"x")
    folder = tmp_path / "frames"
    folder.mkdir()
    ok = [("--out", tmp_path / "out.mp4"), ("--json", tmp_path / "other" / "m.json")]
    check_outputs(ok, [("--driver", video), ("--real", folder), ("--none", None)])
    for out, why in ((video, "is the input"), (tmp_path, "contains the input"),
                     (folder / "x.png", "lies inside the input"),
                     (tmp_path / "frames" / ".." / "in.mp4", "is the input")):
        with pytest.raises(UserError, match=why):
            check_outputs([("--out", out)], [("--driver", video), ("--real", folder)])


def test_output_guard_follows_symlinks_and_hard_links(tmp_path):
    video = tmp_path / "in.mp4"
    video.write_bytes(b"x")
    (tmp_path / "link.mp4").symlink_to(video)
    (tmp_path / "linkdir").symlink_to(tmp_path / "sub", target_is_directory=True)
    (tmp_path / "sub").mkdir()
    os.link(video, tmp_path / "hard.mp4")
    for out in ("link.mp4", "hard.mp4"):
        with pytest.raises(UserError, match="is the input"):
            check_outputs([("--out", tmp_path / out)], [("--driver", video)])
    with pytest.raises(UserError, match="lies inside"):  # through a symlinked folder
        check_outputs([("--out", tmp_path / "linkdir" / "o.mp4")], [("--data", tmp_path / "sub")])
    with pytest.raises(UserError, match="is a file, not a folder"):
        check_outputs([("--out", video / "o.mp4")], [])
    with pytest.raises(UserError, match="collides"):
        check_distinct([("--frames-dir", tmp_path / "f"), ("--attention-maps", tmp_path / "f")])


def test_replace_only_what_v2v_wrote(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("x")
    with pytest.raises(UserError, match="not a clip dir"):
        check_replaceable(mine, is_clip_output, "a clip dir")
    check_replaceable(tmp_path / "missing", is_clip_output, "a clip dir")
    (tmp_path / "empty").mkdir()
    check_replaceable(tmp_path / "empty", is_clip_output, "a clip dir")
    clip = tmp_path / "clip"
    clip.mkdir()
    (clip / "meta.json").write_text(json.dumps({"format": "v2v-clip/1"}))
    check_replaceable(clip, is_clip_output, "a clip dir")
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "000000.png").write_bytes(b"png")
    with pytest.raises(UserError, match="not a PNG folder"):
        check_replaceable(frames, is_marked_output, "a PNG folder")
    write_marker(frames, "v2v-frames/1", "test")
    check_replaceable(frames, is_marked_output, "a PNG folder")
    (tmp_path / "ln").symlink_to(clip, target_is_directory=True)
    with pytest.raises(UserError, match="symbolic link"):
        check_replaceable(tmp_path / "ln", is_clip_output, "a clip dir")


def test_lock_is_exclusive_and_cleans_up(tmp_path):
    first = DirLock(tmp_path).acquire()
    assert (tmp_path / ".lock").read_text().strip() == str(os.getpid())
    with pytest.raises(UserError, match=f"is in use by pid {os.getpid()}"):
        DirLock(tmp_path).acquire()  # a second open file description: flock conflicts
    first.release()
    assert not (tmp_path / ".lock").exists()
    with DirLock(tmp_path) as again:
        assert again.held
    with pytest.raises(UserError, match="no-such-dir"):
        DirLock(tmp_path / "no-such-dir").acquire()


def test_atomic_writes_remove_temporaries_and_created_parents(tmp_path):
    target = tmp_path / "a" / "b" / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []  # no temp file, no a/b folders
    with pytest.raises(UserError, match="no space left on device"):
        with atomic_path(target) as tmp:
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(UserError, match="nope"):
        with atomic_dir(tmp_path / "x" / "d") as d:
            (d / "f").write_text("1")
            raise UserError("nope")
    assert list(tmp_path.iterdir()) == []
    with atomic_path(target) as tmp:
        tmp.write_text("whole")
    assert target.read_text() == "whole" and sorted(p.name for p in target.parent.iterdir()) \
        == ["out.json"]
    made = make_parents(tmp_path / "p" / "q" / "r.txt")
    assert [d.name for d in made] == ["p", "q"]
    remove_created(made)
    assert not (tmp_path / "p").exists()


def test_os_error_message_names_the_output_not_the_temporary(tmp_path):
    exc = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / ".o.mp4.tmp-1234abcd"))
    assert os_error_message(exc, tmp_path / "o.mp4") == f"{tmp_path / 'o.mp4'}: no space left " \
                                                          "on device"
    assert os_error_message(PermissionError(errno.EACCES, "x", "/a")) == "/a: permission denied"
    assert os_error_message(OSError(errno.EROFS, "x")) == "read-only file system"


def test_sixteen_bit_gray_is_scaled_not_white(tmp_path):
    from v2vtool.io.image import read_rgb
    from v2vtool.io.video import open_video

    ramp = (np.arange(64, dtype=np.uint16)[None, :].repeat(8, 0) * 1000)  # 0 .. 63000
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    rgb = read_rgb(tmp_path / "g16.png")
    expected = np.rint(ramp * 255.0 / 65535).astype(np.uint8)
    assert rgb.shape == (8, 64, 3) and np.array_equal(rgb[..., 0], expected)
    assert rgb.min() == 0 and rgb.max() < 255  # not all white
    with open_video(tmp_path / "g16.png") as r:
        assert np.array_equal(next(iter(r)), rgb)
    Image.fromarray(np.full((4, 4), 1e6, np.float32)).save(tmp_path / "f.tif")
    with pytest.raises(UserError, match="not a range"):
        read_rgb(tmp_path / "f.tif")
    (tmp_path / "t.png").write_text("text")
    with pytest.raises(UserError, match="unreadable image"):
        read_rgb(tmp_path / "t.png")


@pytest.mark.parametrize("line, why", [
    ('{"people": [{"pose_keypoints_2d": [NaN, 1, 1]}]}', "NaN"),
    ('{"people": [{"pose_keypoints_2d": [1, Infinity, 1]}]}', "infinite"),
    ('{"people": [{"pose_keypoints_2d": [1e12, 1, 1]}]}', "1e\\+12"),
    ('{"people": [{"pose_keypoints_2d": ["1", 1, 1]}]}', "'1'"),
    ('{"people": [{"pose_keypoints_2d": [true, 1, 1]}]}', "True"),
    ('{"people": [{"pose_keypoints_2d": [1, 1, -0.5]}]}', "confidence"),
    ('{"people": [{"pose_keypoints_2d": [1, 1]}]}', "multiple of 3"),
    ('{"people": [{"pose_keypoints_2d": 5}]}', "must be a list"),
    ('{"people": 5}', "'people' must be a list"),
    ('{"people": [5]}', r"people\[0\] must be an object"),
    ('[1, 2]', "not an OpenPose"),
])
def test_keypoint_validator_names_file_and_line(tmp_path, line, why):
    from v2vtool.io.keypoints import read_jsonl

    path = tmp_path / "k.jsonl"
    path.write_text('{"people": []}\n' + line + "\n")
    with pytest.raises(UserError, match=why) as exc:
        read_jsonl(path)
    assert str(exc.value).startswith(f"{path}:2:") and "\n" not in str(exc.value)


def test_keypoint_validator_accepts_openpose_files(tmp_path):
    from v2vtool.io.keypoints import read_dlib68, read_jsonl

    pose = [0.0] * 75
    pose[0:3] = [-3.5, 120.25, 0.9]  # slightly outside the frame is normal
    path = tmp_path / "ok.jsonl"
    path.write_text(json.dumps({"version": 1.3, "people": [{"person_id": [-1],
                                "pose_keypoints_2d": pose, "face_keypoints_2d": [],
                                "hand_left_keypoints_3d": []}]}) + "\n"
                    + json.dumps({"version": 1.3, "people": None}) + "\n")
    frames = read_jsonl(path)
    assert frames[0][0].pose[0].tolist() == pytest.approx([-3.5, 120.25, 0.9]) and frames[1] == []
    (tmp_path / "d.json").write_text(json.dumps([[1.0, 2.0]] * 68))
    assert read_dlib68(tmp_path / "d.json")[0].face.shape == (70, 3)
    (tmp_path / "bad.json").write_text(json.dumps([[1.0, float("nan")]] * 68).replace(
        "NaN", "NaN"))
    with pytest.raises(UserError, match="NaN"):
        read_dlib68(tmp_path / "bad.json")


def test_sixteen_bit_gray_example_finds_the_person(tmp_path):
    """The shipped example as a 16-bit grayscale PNG: read as its picture (Pillow's own
    convert("RGB") would give a white frame and "no person detected")."""
    from pathlib import Path

    from v2vtool.synthesis.sources import load_examples

    front = Path(__file__).resolve().parents[1] / "examples" / "target_front.png"
    gray = np.asarray(Image.open(front).convert("L")).astype(np.uint16) * 257
    Image.fromarray(gray).save(tmp_path / "front16.png")
    assert np.asarray(Image.open(tmp_path / "front16.png").convert("RGB")).min() == 255
    (ex,) = load_examples([tmp_path / "front16.png"], "pose")
    assert ex.keypoints and (ex.keypoints[0].pose[:, 2] > 0).sum() >= 10
