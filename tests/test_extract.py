"""Extraction on real media (carphone, astronaut), the clip dirs it writes, and `v2v extract`."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

import v2vtool.cli.extract  # noqa: F401  (registers the command even before COMMANDS lists it)
from v2vtool.cli import app
from v2vtool.errors import UserError
from v2vtool.io.clipdir import Clip
from v2vtool.io.keypoints import BODY_25
from v2vtool.semantics.extract import extract_clip
from v2vtool.semantics.kinds import get_extractor
from v2vtool.semantics.smoothing import KeypointSmoother, OneEuroFilter


@pytest.fixture(scope="session")
def face_clip(data_dir, tmp_path_factory):
    """carphone (120 frames) through face extraction, once for the session."""
    return extract_clip(data_dir / "carphone_pristine.mp4", tmp_path_factory.mktemp("face"),
                        "face")


@pytest.fixture(scope="session")
def astronaut_pose():
    import skimage.data
    img = skimage.data.astronaut()
    with get_extractor("pose", static=True) as ex:
        return img, ex(img)


def _face_points(frame) -> int:
    return int((frame[0].face[:, 2] > 0).sum()) if frame else 0


def test_face_carphone_finds_68_landmarks(face_clip):
    clip = Clip(face_clip)
    assert clip.kind == "face" and len(clip) == 120 and clip.size == (176, 144)
    kps = clip.keypoints
    full = sum(_face_points(f) >= 68 for f in kps)
    assert full >= 114, f"only {full}/120 frames with 68 face points"
    assert clip.meta["detection_rate"] >= 0.95
    assert clip.meta["extractor"] == "mediapipe-facemesh" and clip.meta["smoothing"]
    assert clip.meta["source_frame_count"] == 120 and clip.meta["processing"]["fps"] > 0
    face = kps[60][0].face
    # anatomy in image coordinates: eyes above the nose tip above the mouth above the chin
    assert face[36:48, 1].mean() < face[30, 1] < face[48:68, 1].mean() < face[8, 1]
    assert face[36:42, 0].mean() < face[42:48, 0].mean()  # subject's right eye on image left
    for pupil, eye in ((68, slice(36, 42)), (69, slice(42, 48))):
        assert np.linalg.norm(face[pupil, :2] - face[eye, :2].mean(0)) < 4
    sem = clip.semantic(60)
    assert sem.shape == (144, 176) and sem.dtype == np.uint8 and (sem > 0).mean() > 0.01
    assert clip.frame(0).shape == (144, 176, 3) and clip.mask(0) is None


def test_no_smooth_differs_only_slightly(face_clip, data_dir, tmp_path):
    raw = Clip(extract_clip(data_dir / "carphone_pristine.mp4", tmp_path, "face", smooth=False,
                            max_frames=20))
    assert raw.meta["smoothing"] is None and len(raw) == 20
    smooth = Clip(face_clip).keypoints[:20]
    d = [np.abs(a[0].face[:, :2] - b[0].face[:, :2]).mean() for a, b in zip(raw.keypoints, smooth)]
    assert min(d[4:16]) > 0  # frames with a full window are smoothed (the ends less, if at all)
    assert max(d) < 3.0


def test_two_detector_threads_match_one(face_clip, data_dir, tmp_path):
    two = Clip(extract_clip(data_dir / "carphone_pristine.mp4", tmp_path, "face", threads=2,
                            max_frames=30))
    assert two.meta["settings"]["detector_threads"] == 2 and two.meta["detection_rate"] == 1.0
    one = Clip(face_clip).keypoints[:30]
    d = [np.abs(a[0].face[:, :2] - b[0].face[:, :2]).mean() for a, b in zip(two.keypoints, one)]
    assert max(d) < 2.0  # each detector tracks every other frame: same landmarks within ~px


def test_pose_astronaut_upper_body(astronaut_pose):
    img, det = astronaut_pose
    assert len(det.keypoints) == 1
    pose = det.keypoints[0].pose
    found = {BODY_25[i] for i in range(25) if pose[i, 2] > 0}
    assert {"Nose", "Neck", "RShoulder", "LShoulder", "REye", "LEye"} <= found
    nose, neck = pose[0, :2], pose[1, :2]
    assert 150 < nose[0] < 300 and 60 < nose[1] < 200  # the face is in the upper middle
    assert neck[1] > nose[1] + 40 and pose[2, 0] < neck[0] < pose[5, 0]
    assert np.allclose(neck, (pose[2, :2] + pose[5, :2]) / 2, atol=1e-3)
    assert pose[20, 2] == 0 and pose[23, 2] == 0  # small toes are never invented
    assert int((det.keypoints[0].face[:, 2] > 0).sum()) == 70
    assert det.semantic.shape == (512, 512, 3) and det.semantic.any()
    m = det.mask
    assert m.shape == (512, 512) and set(np.unique(m)) <= {0, 255}
    assert m[int(nose[1]), int(nose[0])] == 255 and 0.2 < (m > 0).mean() < 0.9


def test_segmentation_import_keeps_ids(data_dir, tmp_path):
    from v2vtool.semantics.segmentation import PALETTE
    clip = Clip(extract_clip(data_dir / "labels", tmp_path, "segmentation"))
    assert clip.kind == "segmentation" and len(clip) == 3
    assert clip.meta["class_ids"] == [0, 1, 10, 13, 255] and clip.meta["frames_source"] == "palette"
    from PIL import Image
    for i in range(3):
        ids = np.asarray(Image.open(data_dir / "labels" / f"frame_{i:03d}.png"))
        assert np.array_equal(clip.semantic(i), ids)
        assert np.array_equal(clip.frame(i), PALETTE[ids])
    assert (clip.path / "semantics_color" / "000002.png").is_file()


def test_segmentation_from_gray_video_with_images(data_dir, tmp_path):
    import av
    ids = np.zeros((32, 64), np.uint8)
    ids[10:20, 5:30], ids[:5], ids[25:] = 13, 255, 1
    video = tmp_path / "labels.mkv"
    with av.open(str(video), "w") as c:  # lossless gray video of class ids
        s = c.add_stream("ffv1", rate=10)
        s.width, s.height, s.pix_fmt = 64, 32, "gray"
        for i in range(3):
            f = av.VideoFrame.from_ndarray(np.roll(ids, i, axis=1), format="gray")
            f.pts = i
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    pics = tmp_path / "pics"
    pics.mkdir()
    from PIL import Image
    for i in range(3):
        Image.fromarray(np.full((32, 64, 3), 50 * i, np.uint8)).save(pics / f"{i}.png")
    clip = Clip(extract_clip(video, tmp_path / "out", "segmentation", images=pics))
    assert clip.fps == 10 and clip.meta["frames_source"] == str(pics)
    for i in range(3):
        assert np.array_equal(clip.semantic(i), np.roll(ids, i, axis=1))
        assert (clip.frame(i) == 50 * i).all()
    with pytest.raises(UserError, match="fewer"):
        extract_clip(video, tmp_path / "out2", "segmentation", images=pics / "0.png")
    assert not (tmp_path / "out2").exists()


def test_edges(data_dir, tmp_path):
    clip = Clip(extract_clip(data_dir / "no_person.mp4", tmp_path, "edges"))
    assert len(clip) == 12 and not clip.has_keypoints and "detection_rate" not in clip.meta
    sem = clip.semantic(3)
    assert set(np.unique(sem)) == {0, 255}


def test_one_euro_filter():
    rng = np.random.default_rng(0)
    f = OneEuroFilter()
    still = np.array([[0.5, 0.5]])
    outs = [f(still + rng.normal(0, 0.01, (1, 2)), np.array([True]), t / 30) for t in range(60)]
    jitter_in, jitter_out = 0.01, np.std(np.concatenate(outs[10:]))
    assert jitter_out < jitter_in / 2
    f.reset()
    moving = [f(np.array([[t / 30 * 1.0, 0.0]]), np.array([True]), t / 30) for t in range(30)]
    assert abs(moving[-1][0, 0] - 29 / 30) < 0.05  # fast motion is followed with little lag
    # a missing point restarts unfiltered
    assert np.allclose(f(np.array([[5.0, 5.0]]), np.array([False]), 1.1), [[5.0, 5.0]])
    assert np.allclose(f(np.array([[0.0, 0.0]]), np.array([True]), 1.2), [[0.0, 0.0]])
    smoother = KeypointSmoother(height=100)
    assert smoother([], 0.0) == []


# ----------------------------------------------------------------------------- CLI
runner = CliRunner()


def _run(*args):
    return runner.invoke(app, ["extract", *map(str, args)])


def _one_error_line(result) -> str:
    lines = [ln for ln in result.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    return lines[0]


def test_cli_help_has_examples():
    result = runner.invoke(app, ["extract", "--help"])
    assert result.exit_code == 0 and "v2v extract talking.mp4 --kind face" in result.output


def test_cli_no_person_reports_zero_detection(data_dir, tmp_path):
    out = tmp_path / "out"
    result = _run(data_dir / "no_person.mp4", "--kind", "pose", "--out", out)
    assert result.exit_code == 0, result.output
    clip = Clip(out / "no_person")
    assert clip.meta["detection_rate"] == 0.0 and clip.meta["frames_detected"] == 0
    assert len(clip) == 12 and all(f == [] for f in clip.keypoints)
    assert clip.mask(5) is not None and not clip.mask(5).any()
    assert "0.0%" in result.stderr and "no_person" in result.stderr


@pytest.mark.parametrize("name,kind,words", [
    ("missing.mp4", "face", "no such file"),
    ("not_a_video.mp4", "pose", "not a readable video"),
    ("truncated.mp4", "face", "truncated"),
    ("zero_frames.mp4", "face", "no video frames"),
])
def test_cli_bad_input(data_dir, tmp_path, name, kind, words):
    out = tmp_path / "out"
    result = _run(data_dir / name, "--kind", kind, "--out", out)
    assert result.exit_code == 2, result.output
    line = _one_error_line(result)
    assert name in line and words in line
    assert not out.exists()  # no partial clip dir, no empty output dir


def test_cli_existing_output_and_overwrite(data_dir, tmp_path):
    out = tmp_path / "out"
    (out / "no_person").mkdir(parents=True)
    (out / "no_person" / "keep.txt").write_text("mine")
    result = _run(data_dir / "no_person.mp4", "--kind", "edges", "--out", out)
    assert result.exit_code == 2
    assert "output exists" in _one_error_line(result)
    assert (out / "no_person" / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in out.iterdir()) == ["no_person"]  # no temp dirs left
    # --overwrite replaces only a clip dir v2v wrote, never a folder of the user's
    result = _run(data_dir / "no_person.mp4", "--kind", "edges", "--out", out, "--overwrite")
    assert result.exit_code == 2
    assert "not a clip dir written by v2v" in _one_error_line(result)
    assert (out / "no_person" / "keep.txt").read_text() == "mine"
    (out / "no_person" / "keep.txt").unlink()
    (out / "no_person").rmdir()
    assert _run(data_dir / "no_person.mp4", "--kind", "edges", "--out", out).exit_code == 0
    (out / "no_person" / "old.txt").write_text("from the first run")
    result = _run(data_dir / "no_person.mp4", "--kind", "edges", "--out", out, "--overwrite")
    assert result.exit_code == 0, result.output
    assert Clip(out / "no_person").kind == "edges"
    assert not (out / "no_person" / "old.txt").exists()  # the earlier clip dir was replaced
    assert sorted(p.name for p in out.iterdir()) == ["no_person"]


@pytest.mark.parametrize("mode", [[], ["--processes"]])
def test_cli_two_workers(data_dir, tmp_path, mode):
    out = tmp_path / "out"
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(data_dir / "no_person.mp4", src / "a.mp4")
    shutil.copy(data_dir / "with_audio.mp4", src / "b.mp4")
    result = _run(src, "--kind", "edges", "--out", out,  # a folder of videos
                  "--workers", "2", "--no-smooth", *mode)
    assert result.exit_code == 0, result.output
    assert len(Clip(out / "a")) == 12 and len(Clip(out / "b")) == 10


def test_library_bad_kind_and_truncated_leaves_nothing(data_dir, tmp_path):
    with pytest.raises(UserError, match="unknown kind"):
        extract_clip(data_dir / "no_person.mp4", tmp_path, "depth")
    with pytest.raises(UserError, match="truncated"):
        extract_clip(data_dir / "truncated.mp4", tmp_path, "edges")
    assert list(tmp_path.iterdir()) == []
