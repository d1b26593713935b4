"""Keypoint smoothing: the zero-lag centred fits (default), One-Euro, and the lag / jitter
measures that benchmarks/smoothing.py reports."""
from __future__ import annotations

import numpy as np
import pytest

from v2vtool.io.keypoints import Person
from v2vtool.semantics.smoothing import (SmoothingSettings, _fit_weights, jitter,
                                         smooth_centred, smooth_keypoints, trajectory_lag)

T = 240
FPS = 30.0


def moving_face(noise: float = 1.0, seed: int = 0) -> tuple[np.ndarray, list]:
    """A face swaying ~3 px/frame (0.8 Hz, 18 px) with a 4 Hz, 2 px wobble, plus detector
    noise: (truth (T, 2), frames of keypoints)."""
    rng = np.random.default_rng(seed)
    t = np.arange(T) / FPS
    truth = np.stack([200 + 18 * np.sin(2 * np.pi * 0.8 * t) + 2 * np.sin(2 * np.pi * 4 * t),
                      150 + 12 * np.sin(2 * np.pi * 0.5 * t + 1)], 1)
    frames = []
    for i in range(T):
        p = Person()
        p.face[:, :2] = truth[i] + rng.normal(0, noise, (70, 2))
        p.face[:, 2] = 1
        frames.append([p])
    return truth, frames


def face_traj(frames: list) -> np.ndarray:
    out = np.full((len(frames), 70, 2), np.nan)
    for i, f in enumerate(frames):
        if len(f) == 1:
            ok = f[0].face[:, 2] > 0
            out[i, ok] = f[0].face[ok, :2]
    return out


def smoothed(frames: list, settings: SmoothingSettings) -> list:
    return [f for f, _ in smooth_keypoints(((f, i) for i, f in enumerate(frames)), 480, FPS,
                                           settings)]


def test_centred_has_zero_lag_and_less_jitter_than_raw_and_one_euro():
    truth, frames = moving_face()
    raw = face_traj(frames)
    new = face_traj(smoothed(frames, SmoothingSettings()))
    old = face_traj(smoothed(frames, SmoothingSettings(method="one-euro")))
    truth3 = np.broadcast_to(truth[:, None], raw.shape)
    assert abs(trajectory_lag(raw, new)) < 0.1
    assert abs(trajectory_lag(truth3, new)) < 0.1
    assert trajectory_lag(raw, old) > 1.0  # the old default trails the motion
    assert jitter(new) < 0.75 * jitter(raw)
    err = {name: np.linalg.norm(x - truth3, axis=2).mean()
           for name, x in (("raw", raw), ("new", new), ("old", old))}
    assert err["new"] < 0.8 * err["raw"] and err["new"] < 0.5 * err["old"], err


def test_trajectory_lag_measures_known_shifts():
    truth, frames = moving_face(noise=0.5)
    raw = face_traj(frames)
    for shift in (3, -2):
        moved = np.roll(raw, shift, axis=0)  # moved[t] = raw[t - shift]: trails by `shift`
        got = trajectory_lag(raw[10:-10], moved[10:-10])
        assert got == pytest.approx(shift, abs=0.05)
    assert jitter(np.zeros((10, 3, 2))) == 0.0


def test_polynomial_motion_passes_unchanged_including_the_ends():
    """A fit of degree 4 follows constant acceleration (and more) exactly: no pull-back."""
    t = np.arange(40, dtype=np.float64)
    frames = []
    for i in t:
        p = Person()
        p.face[:, 0] = 100 + 3 * i + 0.05 * i ** 2
        p.face[:, 1] = 80 - 0.5 * i
        p.face[:, 2] = 1
        frames.append([p])
    out = face_traj(smoothed(frames, SmoothingSettings()))
    assert np.allclose(out, face_traj(frames), atol=1e-3)


def test_gaps_people_and_stream_order():
    truth, frames = moving_face(noise=2.0)
    frames = [[f[0]] for f in frames[:60]]
    for i in range(20, 25):  # points 5-9 lost for five frames
        frames[i][0].face[5:10] = 0
    frames[40] = []  # nobody
    frames[45] = [frames[45][0], Person()]  # two people: identities unknown
    items = [(f, ("payload", i)) for i, f in enumerate(frames)]
    out = list(smooth_centred(iter(items), half_window=4, order=4))
    assert [p for _, p in out] == [("payload", i) for i in range(60)]
    assert out[40][0] == [] and out[45][0] is frames[45]  # passed through unchanged
    for i in range(20, 25):  # missing points stay missing; the others are smoothed
        assert (out[i][0][0].face[5:10] == 0).all()
        assert not np.array_equal(out[i][0][0].face[10:, :2], frames[i][0].face[10:, :2])
    # frames next to a gap use only their own side: frame 39 must not see frame 41's points
    side = face_traj([f for f, _ in smooth_centred([(f, None) for f in frames[:40]], 4, 4)])
    assert np.allclose(side[39], face_traj([out[39][0]])[0])
    assert list(smooth_centred(iter([]))) == []
    short = list(smooth_centred([(frames[0], 0), (frames[1], 1)], 4, 4))
    assert [p for _, p in short] == [0, 1]


def test_centred_smoothing_streams_with_bounded_lookahead():
    _, frames = moving_face()
    pulled = []

    def source():
        for i, f in enumerate(frames[:30]):
            pulled.append(i)
            yield f, i
    stream = smooth_centred(source(), half_window=4, order=4)
    for t in range(10):
        _, i = next(stream)
        assert i == t and pulled[-1] == t + 4  # frame t needs exactly frames up to t + 4
    assert len(list(stream)) == 20


def test_fit_weights_and_settings():
    h = _fit_weights(-4, 4, 4)
    assert h.sum() == pytest.approx(1.0) and np.allclose(h, h[::-1])  # symmetric: zero phase
    assert np.sqrt((h ** 2).sum()) < 0.7  # white noise shrinks
    for lo, hi in ((0, 4), (-1, 4), (-4, 1), (-2, 3)):  # one-sided windows never add noise
        assert np.sqrt((_fit_weights(lo, hi, 4) ** 2).sum()) <= 1.0 + 1e-9
    assert SmoothingSettings().lookahead == 4
    assert SmoothingSettings(method="one-euro").lookahead == 0
    with pytest.raises(ValueError):
        SmoothingSettings(method="kalman")
    with pytest.raises(ValueError):
        SmoothingSettings(half_window=-1)
