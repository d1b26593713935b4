"""Keypoint files (OpenPose JSON per frame, JSON lines, dlib 68) and the clip directory format."""
from __future__ import annotations

import json

import numpy as np
import pytest

from v2vtool.errors import UserError
from v2vtool.io.clipdir import Clip, ClipWriter, is_clip_dir
from v2vtool.io.keypoints import (BODY_25, BODY_25_FLIP, ImplausibleCounter, Person,
                                  drop_implausible, frame_to_dict, main_person, read_dlib68,
                                  read_jsonl, read_openpose_dir, read_openpose_json, write_jsonl,
                                  write_openpose_json)


def _person(seed: int) -> Person:
    rng = np.random.default_rng(seed)
    def part(n):
        a = np.round(rng.random((n, 3)) * [640, 480, 1], 3).astype(np.float32)
        a[rng.random(n) < 0.2] = 0  # some missing points
        return a
    return Person(part(25), part(70), part(21), part(21))


def _same(a: list, b: list) -> None:
    assert len(a) == len(b)
    for p, q in zip(a, b):
        for key, arr in p.arrays().items():
            assert np.allclose(arr, q.arrays()[key], atol=1e-3), key


# What OpenPose 1.7 writes for a frame without people, and one with a person (+ extra keys).
OPENPOSE_EMPTY = '{"version":1.3,"people":[]}'


def _openpose_person_text() -> tuple[str, list[float]]:
    pose = [float(v) for i in range(25) for v in (100 + i, 200 + 2 * i, 0.5 + i / 100)]
    face = [float(v) for i in range(70) for v in (300 + i, 50 + i, 0.9)]
    hand = [0.0] * 63
    obj = {"version": 1.3, "people": [{
        "person_id": [-1], "pose_keypoints_2d": pose, "face_keypoints_2d": face,
        "hand_left_keypoints_2d": hand, "hand_right_keypoints_2d": hand,
        "pose_keypoints_3d": [], "face_keypoints_3d": [], "hand_left_keypoints_3d": [],
        "hand_right_keypoints_3d": []}], "part_candidates": [{"0": [1, 2, 0.5]}]}
    return json.dumps(obj), pose


def test_read_openpose_written_files(tmp_path):
    d = tmp_path / "op"
    d.mkdir()
    (d / "video_000000000000_keypoints.json").write_text(OPENPOSE_EMPTY)
    text, pose = _openpose_person_text()
    (d / "video_000000000001_keypoints.json").write_text(text)
    frames = read_openpose_dir(d)
    assert frames[0] == []
    (person,) = frames[1]
    assert person.pose.shape == (25, 3) and person.pose.dtype == np.float32
    assert np.allclose(person.pose.reshape(-1), pose)
    assert np.allclose(person.face[69], [369, 119, 0.9])
    assert not person.hand_left.any()


def test_openpose_json_roundtrip_by_value(tmp_path):
    frame = [_person(0), _person(1)]
    write_openpose_json(tmp_path / "f.json", frame)
    back = read_openpose_json(tmp_path / "f.json")
    _same(frame, back)
    obj = json.loads((tmp_path / "f.json").read_text())
    assert obj["version"] == 1.3 and len(obj["people"][0]["pose_keypoints_2d"]) == 75
    assert len(obj["people"][0]["face_keypoints_2d"]) == 210
    # written again from what was read: identical bytes
    write_openpose_json(tmp_path / "g.json", back)
    assert (tmp_path / "g.json").read_bytes() == (tmp_path / "f.json").read_bytes()


def test_jsonl_roundtrip(tmp_path):
    frames = [[_person(i)] if i % 3 else [] for i in range(7)]
    write_jsonl(tmp_path / "k.jsonl", frames)
    back = read_jsonl(tmp_path / "k.jsonl")
    assert [len(f) for f in back] == [len(f) for f in frames]
    for a, b in zip(frames, back):
        _same(a, b)
    assert [frame_to_dict(f) for f in back] == [frame_to_dict(f) for f in frames]


def test_bad_keypoint_files(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(UserError, match="bad.json"):
        read_openpose_json(tmp_path / "bad.json")
    (tmp_path / "nopeople.json").write_text('{"version": 1.3}')
    with pytest.raises(UserError, match="people"):
        read_openpose_json(tmp_path / "nopeople.json")
    with pytest.raises(UserError, match="not found"):
        read_openpose_json(tmp_path / "missing.json")


def test_dlib68(tmp_path):
    pts = [[10 + i, 20 + 2 * i] for i in range(68)]
    (tmp_path / "d.json").write_text(json.dumps(pts))
    (person,) = read_dlib68(tmp_path / "d.json")
    assert np.allclose(person.face[:68, :2], pts) and (person.face[:, 2] == 1).all()
    assert np.allclose(person.face[68, :2], np.mean(pts[36:42], 0))


def test_body25_names_flip_and_main_person():
    assert len(BODY_25) == 25 and BODY_25[1] == "Neck" and BODY_25[8] == "MidHip"
    flip = np.asarray(BODY_25_FLIP)
    assert np.array_equal(flip[flip], np.arange(25))
    for i, j in enumerate(flip):
        a, b = BODY_25[i], BODY_25[j]
        assert a == b or {a[0], b[0]} == {"L", "R"} and a[1:] == b[1:]
    weak, strong = _person(2), _person(3)
    weak.pose[:, 2] = 0.01
    assert main_person([weak, strong]) is strong and main_person([]) is None


def test_clipdir_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    frames = [(rng.random((20, 30, 3)) * 255).astype(np.uint8) for _ in range(4)]
    to_frame = np.array([30 / 640, 20 / 480], np.float32)  # points inside the 30x20 frames
    kps = [[_person(i).transformed(to_frame, np.zeros(2))] if i != 2 else [] for i in range(4)]
    with ClipWriter(tmp_path / "clip", "pose", fps=12.5) as w:
        for f, k in zip(frames, kps):
            w.add(f, keypoints=k, semantic=f[..., ::-1].copy(),
                  mask=np.where(f[..., 0] > 128, 255, 0).astype(np.uint8))
        w.close(source="test", extractor="none")
    assert is_clip_dir(tmp_path / "clip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip"]
    clip = Clip(tmp_path / "clip")
    assert (clip.kind, clip.fps, clip.size, len(clip)) == ("pose", 12.5, (30, 20), 4)
    assert clip.meta["frames_detected"] == 3 and clip.meta["detection_rate"] == 0.75
    assert clip.meta["source"] == "test"
    for i in range(4):
        assert np.array_equal(clip.frame(i), frames[i])
        assert np.array_equal(clip.semantic(i), frames[i][..., ::-1])
        assert np.array_equal(clip.mask(i), np.where(frames[i][..., 0] > 128, 255, 0))
        _same(clip.keypoints[i], kps[i])


def test_clipwriter_abort_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with ClipWriter(tmp_path / "clip", "face", fps=25) as w:
            w.add(np.zeros((8, 8, 3), np.uint8), keypoints=[])
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "clip").mkdir()
    with pytest.raises(UserError, match="exists"):
        ClipWriter(tmp_path / "clip", "face", fps=25)


def test_points_beyond_one_frame_size_are_missing_joints():
    """In a 100x50 frame, x in [-100, 200] and y in [-50, 100] are plausible (a joint off the
    edge); beyond is no detection: confidence 0, counted; a person left with nothing goes."""
    pose = np.zeros((25, 3), np.float32)
    pts = {0: (-100, 10), 1: (-100.5, 10), 2: (200, 10), 3: (200.5, 10), 4: (50, -51),
           5: (50, 101), 6: (50, 100), 7: (50, -50)}
    for j, (x, y) in pts.items():
        pose[j] = (x, y, 0.9)
    pose[8] = (-9999, 0, 0)  # already missing: not counted
    far = Person(pose=np.tile(np.float32([[-10000, -10000, 1]]), (25, 1)))
    frame, n = drop_implausible([Person(pose=pose), far], (100, 50))
    assert n == 4 + 25 and len(frame) == 1
    kept = frame[0].pose
    assert [j for j in range(25) if kept[j, 2] > 0] == [0, 2, 6, 7]
    assert kept[[1, 3, 4, 5]].tolist() == [[0, 0, 0]] * 4
    assert pose[1, 2] == np.float32(0.9)  # the input frame is not modified
    same = [Person(pose=kept)]
    assert drop_implausible(same, (100, 50)) == (same, 0)
    count = ImplausibleCounter((100, 50))
    assert count([far]) == [] and count(same) == same and count([]) == []
    assert (count.points, count.frames) == (25, 1)


def test_clips_read_and_write_far_points_as_missing(tmp_path):
    """ClipWriter counts them in meta.json (detection rate after dropping); Clip.keypoints
    drops them from a clip written by hand."""
    img = np.zeros((20, 30, 3), np.uint8)
    ok = Person(pose=np.tile(np.float32([[10, 10, 1]]), (25, 1)))
    far = Person(pose=np.tile(np.float32([[-5000, 10, 1]]), (25, 1)))
    with ClipWriter(tmp_path / "c", "pose", fps=10) as w:
        w.add(img, keypoints=[ok])
        w.add(img, keypoints=[far])
        w.close()
    meta = Clip(tmp_path / "c").meta
    assert (meta["implausible_keypoints"], meta["detection_rate"]) == (25, 0.5)
    (tmp_path / "c" / "keypoints.jsonl").write_text(
        "".join(json.dumps(frame_to_dict(f)) + "\n" for f in ([far], [ok])))
    clip = Clip(tmp_path / "c")
    assert clip.keypoints[0] == [] and len(clip.keypoints[1]) == 1
    assert clip.implausible_keypoints == 25
