"""The fast extraction path: the pose graph (Holistic's parts), detection on a downscaled copy
mapped back to full resolution, the prefetching reader and the PNG writer."""
from __future__ import annotations

import io
import threading

import cv2
import numpy as np
import pytest
from PIL import Image

from v2vtool.errors import UserError
from v2vtool.io.png import encode_png, write_png
from v2vtool.io.prefetch import Prefetch
from v2vtool.io.video import open_video, read_frames
from v2vtool.semantics.extractors import _readonly
from v2vtool.semantics.kinds import get_extractor
from v2vtool.semantics.pose_graph import PoseGraph, detection_size, hands_in_frame


@pytest.fixture(scope="module")
def carphone(data_dir):
    return read_frames(data_dir / "carphone_pristine.mp4", 16)


# ----------------------------------------------------------------------------- pose graph
def test_detection_size():
    assert detection_size((1920, 1080), 640) == (640, 360)
    assert detection_size((1080, 1920), 640) == (360, 640)
    assert detection_size((256, 256), 640) == (256, 256)  # small frames are not touched
    assert detection_size((1920, 1080), None) == (1920, 1080)


def test_hand_gate():
    pose = np.full((33, 2), 0.5, np.float32)
    assert hands_in_frame(pose)
    pose[15:23] = (0.5, 1.7)  # both wrists and hands below the frame (carphone's case)
    assert not hands_in_frame(pose)
    pose[19] = (0.99, 0.98)  # the left index finger inside: run the hand models
    assert hands_in_frame(pose)


def test_pose_graph_gives_holistic_landmarks(carphone):
    """Same subgraphs, side packets and thresholds: identical pose and face landmarks."""
    import mediapipe as mp
    graph = PoseGraph()
    holistic = mp.solutions.holistic.Holistic(refine_face_landmarks=True)
    try:
        for frame in carphone[:8]:
            f = _readonly(frame)
            ours, theirs = graph.process(f, f), holistic.process(f)
            for a, b in ((ours["pose"], theirs.pose_landmarks),
                         (ours["face"], theirs.face_landmarks)):
                xa = np.array([(p.x, p.y, p.z) for p in a.landmark])
                xb = np.array([(p.x, p.y, p.z) for p in b.landmark])
                assert xa.shape == xb.shape and np.array_equal(xa, xb)
            assert theirs.left_hand_landmarks is None and theirs.right_hand_landmarks is None
        assert graph.hand_calls == 0  # carphone's wrists are below the frame: hands skipped
        assert ours["mask"].shape == frame.shape[:2] and ours["mask"].dtype == np.float32
    finally:
        graph.close()
        holistic.close()


def test_mediapipe_landmark_filter_is_off_by_default(data_dir):
    """mediapipe's own (causal) landmark filter trails the motion; extract smooths afterwards
    without lag, so the extractor's default is unfiltered."""
    from v2vtool.semantics.smoothing import trajectory_lag
    frames = read_frames(data_dir / "carphone_pristine.mp4", 60)

    def body(ex) -> np.ndarray:
        out = []
        for f in frames:
            pose = ex.detect(f)[0][0].pose
            out.append(np.where(pose[:, 2:] >= 0.5, pose[:, :2], np.nan))
        return np.array(out)
    with get_extractor("pose") as plain, get_extractor("pose", landmark_filter=True) as mp:
        assert plain.settings["smooth_landmarks"] is False and mp.settings["smooth_landmarks"]
        lag = trajectory_lag(body(plain), body(mp))
    assert lag > 0.5, lag  # measured ~1 frame on carphone


def test_downscaled_detection_maps_back_to_full_resolution(carphone):
    """carphone upscaled 4x, pose model on a 176 px copy: keypoints land on 4x the native
    detections, in full-resolution pixels; the mask is full size and matches too."""
    big = [cv2.resize(f, (704, 576), interpolation=cv2.INTER_CUBIC) for f in carphone[:10]]
    with get_extractor("pose", detect_size=None) as native, \
            get_extractor("pose", detect_size=176) as fast:
        assert fast.describe()["settings"]["detect_size"] == 176
        ref = [native.detect(f) for f in carphone[:10]]
        out = [fast.detect(f) for f in big]
    pose_d, face_d, ious = [], [], []
    for (kr, mr), (kf, mf) in zip(ref, out):
        a, b = kr[0].pose, kf[0].pose
        both = (a[:, 2] > 0) & (b[:, 2] > 0)
        assert both.sum() >= 8
        pose_d.append(np.abs(4 * a[both, :2] - b[both, :2]).mean())
        face_d.append(np.abs(4 * kr[0].face[:, :2] - kf[0].face[:, :2]).mean())
        assert mf.shape == (576, 704) and set(np.unique(mf)) <= {0, 255}
        up = cv2.resize(mr, (704, 576), interpolation=cv2.INTER_NEAREST) > 0
        ious.append(((mf > 0) & up).sum() / ((mf > 0) | up).sum())
    assert max(b[0].pose[:, 0].max() for b, _ in out) > 400  # full-res pixels, not 176-px ones
    assert np.mean(pose_d) < 2.0, pose_d  # measured 0.7 px (0.17 px at the native size)
    assert np.mean(face_d) < 4.0, face_d  # face crops from the full frame: measured 1.6 px
    assert np.mean(ious) > 0.95, ious


def test_pose_on_large_carphone_and_astronaut(carphone):
    """Detection still works through the fast path: a 1280x720 pillarboxed carphone (pose
    model on a 640 px copy) and the astronaut still (static mode)."""
    import skimage.data
    frames = []
    for f in carphone[:6]:
        canvas = np.zeros((720, 1280, 3), np.uint8)
        canvas[:, 200:1080] = cv2.resize(f, (880, 720), interpolation=cv2.INTER_CUBIC)
        frames.append(canvas)
    with get_extractor("pose") as ex:
        found = [ex.detect(f) for f in frames]
    for kps, mask in found:
        assert len(kps) == 1 and (kps[0].face[:, 2] > 0).sum() == 70
        nose = kps[0].pose[0]
        assert nose[2] > 0 and 200 < nose[0] < 1080 and mask[int(nose[1]), int(nose[0])] == 255
    img = skimage.data.astronaut()
    with get_extractor("pose", static=True) as ex:
        kps, mask = ex.detect(img)
    assert len(kps) == 1 and (kps[0].face[:, 2] > 0).sum() == 70
    nose = kps[0].pose[0]
    assert 150 < nose[0] < 300 and 60 < nose[1] < 200 and mask[int(nose[1]), int(nose[0])] == 255
    assert 0.2 < (mask > 0).mean() < 0.9


# ----------------------------------------------------------------------------- prefetch
def test_prefetch_yields_every_frame_in_order(data_dir):
    path = data_dir / "carphone_pristine.mp4"
    plain = read_frames(path)
    with open_video(path) as reader, Prefetch(reader, depth=3) as frames:
        got = list(frames)
    assert len(got) == len(plain) == 120
    assert all(np.array_equal(a, b) for a, b in zip(got, plain))


def test_prefetch_raises_source_errors_in_place(data_dir):
    """A truncated video: the frames before the damage come out, then its UserError."""
    got = []
    with open_video(data_dir / "truncated.mp4") as reader:
        prefetch = Prefetch(reader)
        with pytest.raises(UserError, match="truncated"):
            for frame in prefetch:
                got.append(frame)
    assert not prefetch._thread.is_alive()
    with open_video(data_dir / "truncated.mp4") as reader:
        n = 0
        with pytest.raises(UserError):
            for _ in reader:
                n += 1
    assert len(got) == n


def test_prefetch_stops_its_thread_when_the_consumer_stops_or_fails():
    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()  # runs on the prefetch thread when it is stopped

    with Prefetch(endless(), depth=2) as items:
        first = [x for _, x in zip(range(5), items)]
    assert first == [0, 1, 2, 3, 4]
    assert closed.wait(2) and not items._thread.is_alive()

    closed.clear()
    with pytest.raises(RuntimeError, match="consumer"):
        with Prefetch(endless(), depth=2) as items:
            for x in items:
                if x == 3:
                    raise RuntimeError("consumer failed")
    assert closed.wait(2) and not items._thread.is_alive()
    with pytest.raises(ValueError):
        Prefetch([], depth=0)
    assert list(Prefetch([])) == []


# ----------------------------------------------------------------------------- png
@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (33, 17, 3), (144, 176, 3)])
def test_png_round_trip(shape, tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, shape, dtype=np.uint8)
    img[: shape[0] // 2] = 7  # flat rows too (the Up filter's easy case)
    write_png(tmp_path / "a.png", img)
    with Image.open(tmp_path / "a.png") as im:
        assert im.mode == ("L" if len(shape) == 2 else "RGB")
        assert np.array_equal(np.asarray(im), img)
    back = cv2.imdecode(np.frombuffer(encode_png(img), np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(back if back.ndim == 2 else back[..., ::-1], img)


def test_png_is_compressed_and_rejects_bad_input(carphone):
    data = encode_png(carphone[0])
    buf = io.BytesIO()
    Image.fromarray(carphone[0]).save(buf, format="png", compress_level=1)
    assert len(data) < min(0.7 * carphone[0].nbytes, 1.15 * len(buf.getvalue()))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), carphone[0])
    for bad in (np.zeros((4, 4), np.float32), np.zeros((4, 4, 4), np.uint8),
                np.zeros((0, 4), np.uint8), np.zeros(4, np.uint8)):
        with pytest.raises(ValueError):
            encode_png(bad)
