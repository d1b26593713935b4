"""Video I/O: streaming reads of every source kind, H.264 writing, audio copy, bad input."""
from __future__ import annotations

import tracemalloc

import av
import numpy as np
import pytest
from PIL import Image

from v2vtool.errors import UserError
from v2vtool.io.video import VideoWriter, open_video, read_frames, write_png_dir


def test_read_carphone(data_dir):
    with open_video(data_dir / "carphone_pristine.mp4") as r:
        assert r.size == (176, 144)
        assert r.frame_count == 120 == len(r)
        assert abs(r.fps - 29.97) < 0.01
        n = 0
        for frame in r:
            assert frame.shape == (144, 176, 3) and frame.dtype == np.uint8
            n += 1
        assert n == 120


def test_streaming_memory_does_not_grow(data_dir):
    """Peak Python-side memory while reading 120 frames stays ~ a few frames, not the video."""
    frame_bytes = 176 * 144 * 3
    tracemalloc.start()
    with open_video(data_dir / "carphone_pristine.mp4") as r:
        for _ in r:
            pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 10 * frame_bytes  # the whole clip would be 120 frames


@pytest.mark.parametrize("fmt,codec", [("webm", "libvpx-vp9"), ("mkv", "libx264"),
                                       ("avi", "mpeg4"), ("mov", "libx264")])
def test_read_other_containers(tmp_path, fmt, codec):
    path = tmp_path / f"clip.{fmt}"
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=10)
        s.width, s.height, s.pix_fmt = 32, 24, "yuv420p"
        for i in range(5):
            f = av.VideoFrame.from_ndarray(np.full((24, 32, 3), 40 * i, np.uint8), format="rgb24")
            f.pts = i
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    with open_video(path) as r:
        assert r.size == (32, 24) and r.frame_count == 5 and abs(r.fps - 10) < 1e-6
        assert len(list(r)) == 5


def test_png_dir_and_single_image(tmp_path):
    frames = [np.full((10, 12, 3), i * 20, np.uint8) for i in range(12)]
    assert write_png_dir(tmp_path / "seq", frames) == 12
    with open_video(tmp_path / "seq", fps=12) as r:
        assert (r.size, r.frame_count, r.fps) == ((12, 10), 12, 12.0)
        got = list(r)
    assert all(np.array_equal(a, b) for a, b in zip(got, frames))
    with pytest.raises(UserError, match="exists"):
        write_png_dir(tmp_path / "seq", frames)
    Image.fromarray(frames[3]).save(tmp_path / "one.jpg")
    with open_video(tmp_path / "one.jpg") as r:
        assert r.frame_count == 1 and r.size == (12, 10)
        assert np.abs(next(iter(r)).astype(int) - 60).max() <= 2


def test_label_maps_read_as_ids(data_dir):
    with open_video(data_dir / "labels", mode="ids") as r:
        maps = list(r)
    assert len(maps) == 3
    for m in maps:  # gray and palette PNGs both give raw class ids
        assert m.shape == (32, 64) and set(np.unique(m)) == {0, 1, 10, 13, 255}


def test_writer_roundtrip_odd_size_and_fps(tmp_path):
    rng = np.random.default_rng(0)
    base = (rng.random((31, 45, 3)) * 255).astype(np.uint8)
    out = tmp_path / "out.mp4"
    with VideoWriter(out, fps=30000 / 1001) as w:
        for i in range(8):
            w.write(np.roll(base, i, axis=1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # no temp left
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"
        assert abs(float(s.average_rate) - 29.97) < 0.01
    with open_video(out) as r:
        assert r.size == (46, 32) and r.frame_count == 8


def test_writer_quality(data_dir, tmp_path):
    frames = read_frames(data_dir / "carphone_pristine.mp4", limit=10)
    with VideoWriter(tmp_path / "c.mp4", fps=25) as w:
        for f in frames:
            w.write(f)
    back = read_frames(tmp_path / "c.mp4")
    assert len(back) == 10
    err = np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(frames, back)])
    assert err < 4.0


def test_writer_atomic_on_error(tmp_path):
    out = tmp_path / "bad.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(out, fps=25) as w:
            w.write(np.zeros((16, 16, 3), np.uint8))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_writer_copies_audio(data_dir, tmp_path):
    out = tmp_path / "a.mp4"
    with VideoWriter(out, fps=25, audio_from=data_dir / "with_audio.mp4") as w:
        for f in read_frames(data_dir / "with_audio.mp4"):
            w.write(f)
    with av.open(str(out)) as c:
        assert len(c.streams.video) == 1 and len(c.streams.audio) == 1
        a = c.streams.audio[0]
        assert a.codec_context.name == "aac" and a.rate == 16000
        n_audio = sum(1 for p in c.demux(a) if p.size)
        assert n_audio > 3


@pytest.mark.parametrize("name,pattern", [
    ("missing.mp4", "no such file"),
    ("not_a_video.mp4", "not a readable video"),
    ("zero_frames.mp4", "no video frames"),
    ("truncated.mp4", "truncated"),
])
def test_bad_inputs_raise_user_error(data_dir, name, pattern):
    path = data_dir / name
    with pytest.raises(UserError, match=pattern) as info:
        with open_video(path) as r:
            for _ in r:
                pass
    msg = str(info.value)
    assert name in msg and "\n" not in msg


def test_empty_dir_and_corrupt_png(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no PNG/JPG"):
        open_video(tmp_path / "empty")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(UserError, match="bad.png"):
        open_video(tmp_path / "bad.png")
