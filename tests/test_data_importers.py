"""Importers: OpenPose / dlib-68 / label-map layouts -> clip dirs, problems reported per file."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from v2vtool.data.importers import import_dataset, pair_key
from v2vtool.data.info import dataset_info
from v2vtool.errors import UserError
from v2vtool.io.clipdir import Clip

W, H = 48, 40


def _img(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.full((H, W, 3), value, np.uint8)
    arr[5:15, 10:20] = 255 - value
    Image.fromarray(arr).save(path)


def _openpose(n_people: int, shift: float = 0.0) -> dict:
    """OpenPose 1.3+ output, verbatim layout (version, person_id, 2d and empty 3d lists)."""
    people = []
    for _ in range(n_people):
        pose = []
        for j in range(25):
            pose += [10.0 + j + shift, 5.0 + j, 0.8 if j != 4 else 0.0]
        people.append({"person_id": [-1], "pose_keypoints_2d": pose,
                       "face_keypoints_2d": [], "hand_left_keypoints_2d": [],
                       "hand_right_keypoints_2d": [], "pose_keypoints_3d": [],
                       "face_keypoints_3d": [], "hand_left_keypoints_3d": [],
                       "hand_right_keypoints_3d": []})
    return {"version": 1.3, "people": people}


@pytest.fixture
def openpose_src(tmp_path) -> Path:
    src = tmp_path / "dance"
    for i in range(4):  # seq "a": OpenPose's own naming, frame 2 has nobody
        _img(src / "images/a" / f"frame{i:06d}.jpg", 40 * i)
        obj = _openpose(0 if i == 2 else 1, shift=i)
        (src / "poses-openpose/a").mkdir(parents=True, exist_ok=True)
        (src / "poses-openpose/a" / f"frame{i:06d}_keypoints.json").write_text(json.dumps(obj))
    for i in range(3):  # seq "b": plain names, one orphan json, one corrupt image
        _img(src / "images/b" / f"frame{i:06d}.png", 30 * i)
        (src / "poses-openpose/b").mkdir(parents=True, exist_ok=True)
        (src / "poses-openpose/b" / f"frame{i:06d}.json").write_text(json.dumps(_openpose(2)))
    (src / "images/b/frame000001.png").write_bytes(b"not a png")
    (src / "poses-openpose/b/frame000099.json").write_text(json.dumps(_openpose(1)))
    _img(src / "images/c/frame000000.jpg", 9)  # seq "c": no pose folder at all
    return src


def test_pair_key_handles_dataset_suffixes():
    assert pair_key("frame000100_keypoints") == "frame000100"
    assert pair_key("aachen_000000_000019_gtFine_labelIds") == \
        pair_key("aachen_000000_000019_leftImg8bit")


def test_openpose_import(openpose_src, tmp_path):
    report = import_dataset(openpose_src, tmp_path / "out", "openpose", fps=25)
    by_name = {c["name"]: c for c in report.clips}
    assert set(by_name) == {"a", "b"}
    assert by_name["a"]["frames"] == 3 and by_name["b"]["frames"] == 2
    problems = {(Path(p.file).name, p.message) for p in report.problems}
    assert ("frame000002_keypoints.json", "no person in frame") in problems
    assert ("frame000099.json", "no matching image") in problems
    assert any(f == "frame000001.png" and "unreadable image" in m for f, m in problems)
    assert any(f == "c" and "no annotation folder" in m for f, m in problems)
    assert any("3 images but 4 annotation files" in m for _, m in problems)
    clip = Clip(tmp_path / "out/a")
    assert clip.kind == "pose" and clip.fps == 25 and clip.size == (W, H) and len(clip) == 3
    kp = clip.keypoints[2][0].pose  # source frame 3 (frame 2 was skipped)
    assert kp[0, 0] == pytest.approx(13.0) and kp[4, 2] == 0
    assert clip.semantic(0).shape == (H, W, 3) and clip.semantic(0).any()
    assert len(Clip(tmp_path / "out/b").keypoints[0]) == 2  # both people kept
    info = dataset_info(tmp_path / "out")
    assert info["summary"]["clips"] == 2 and info["summary"]["frames"] == 5
    assert info["summary"]["kinds"] == {"pose": 5}


def test_dlib68_import(tmp_path):
    src = tmp_path / "faces"
    rng = np.random.default_rng(0)
    for i in range(3):
        _img(src / "images/p1" / f"{i:05d}.jpg", 50 * i)
        pts = [] if i == 1 else (rng.uniform(5, 35, (68, 2))).round(1).tolist()
        (src / "landmarks-dlib68/p1").mkdir(parents=True, exist_ok=True)
        (src / "landmarks-dlib68/p1" / f"{i:05d}.json").write_text(json.dumps(pts))
    report = import_dataset(src, tmp_path / "out", "dlib68")
    assert [c["frames"] for c in report.clips] == [2]
    assert [p.message for p in report.problems] == ["no face in frame"]
    clip = Clip(tmp_path / "out/p1")
    assert clip.kind == "face" and clip.semantic(0).ndim == 2 and clip.semantic(0).max() > 0
    assert clip.keypoints[0][0].face[:68, 2].all()


def test_labelmap_import(tmp_path):
    src = tmp_path / "city"
    for i, name in enumerate(("aachen_000000_000019", "aachen_000001_000019")):
        _img(src / "images/aachen" / f"{name}_leftImg8bit.png", 20 * i)
        ids = np.zeros((H, W), np.uint8)
        ids[:, W // 2:] = 7
        (src / "seg_maps/aachen").mkdir(parents=True, exist_ok=True)
        mode = "L" if i == 0 else "RGB"
        Image.fromarray(ids).convert(mode).save(
            src / "seg_maps/aachen" / f"{name}_gtFine_labelIds.png")
    report = import_dataset(src, tmp_path / "out", "labelmap")
    assert [c["frames"] for c in report.clips] == [1]
    assert len(report.problems) == 1 and "not a class-id PNG" in report.problems[0].message
    clip = Clip(tmp_path / "out/aachen")
    assert clip.kind == "segmentation" and set(np.unique(clip.semantic(0))) == {0, 7}


def test_nothing_usable_fails_and_writes_nothing(tmp_path):
    src = tmp_path / "empty"
    _img(src / "images/s/frame000000.jpg", 1)
    (src / "poses-openpose/s").mkdir(parents=True)
    (src / "poses-openpose/s/frame000000_keypoints.json").write_text(
        json.dumps({"version": 1.3, "people": []}))
    with pytest.raises(UserError, match="nothing usable"):
        import_dataset(src, tmp_path / "out", "openpose")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))
    with pytest.raises(UserError, match="no images/ folder"):
        import_dataset(tmp_path, tmp_path / "out", "openpose")
