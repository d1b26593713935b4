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


# ---- phone footage: rotation, variable frame rate, numbered frame folders ----------------------

def test_portrait_phone_video_reads_upright(tmp_path):
    from tests.phone_media import marker_frames, stored_landscape, write_video

    upright = marker_frames(6)  # (128, 96): white block top-left
    path = write_video(tmp_path / "portrait.mp4", stored_landscape(upright), display_rotation=-90)
    with av.open(str(path)) as c:  # stored landscape, as a phone writes it
        assert (c.streams.video[0].width, c.streams.video[0].height) == (128, 96)
    with open_video(path) as r:
        assert r.size == (96, 128) and r.frame_count == 6
        assert r.orientation.describe() == {"degrees": -90, "mirrored": False,
                                            "source": "display matrix", "applied": True}
        frames = list(r)
    assert all(f.shape == (128, 96, 3) for f in frames)
    assert frames[2][4:12, 2:10].min() > 230 and frames[2][4:12, -10:-2].max() < 120
    assert all(np.abs(a.astype(int) - b).mean() < 2 for a, b in zip(frames, upright))


def test_vfr_timestamps_are_read(tmp_path):
    from tests.phone_media import marker_frames, vfr_times, write_video

    times = vfr_times(12)
    path = write_video(tmp_path / "vfr.mp4", marker_frames(12), times=times)
    with open_video(path) as r:
        timing = r.timing
        assert len(list(r)) == 12
    assert timing.vfr and timing.times == pytest.approx(times, abs=1e-3)
    assert timing.fps == pytest.approx(11 / times[-1])
    with av.open(str(path)) as c:  # the demuxed times are the decoded frames' times
        assert [float(f.time) for f in c.decode(video=0)] == pytest.approx(times, abs=1e-3)
    constant = write_video(tmp_path / "cfr.mp4", marker_frames(12), fps=15)
    with open_video(constant) as r:
        assert not r.timing.vfr and r.timing.fps == pytest.approx(15, rel=1e-3)


def test_writer_keeps_vfr_timestamps_and_duration(tmp_path):
    from v2vtool.io.timing import Timing

    from tests.phone_media import marker_frames, vfr_times

    timing = Timing.from_stamps(vfr_times(12), 30.0)
    out = tmp_path / "o.mp4"
    with VideoWriter(out, timing.fps, timing=timing) as w:
        for f in marker_frames(12):
            w.write(f)
    with open_video(out) as r:
        back = r.timing
        assert r.frame_count == 12
    assert back.times == pytest.approx(timing.times, abs=1e-4)
    with av.open(str(out)) as c:  # the container's duration: the driver's within one frame
        assert abs(c.duration / 1e6 - timing.duration) < 1 / timing.fps


def test_frame_folder_natural_order_and_missing_index_held(tmp_path):
    seq = tmp_path / "seq"
    seq.mkdir()
    for i in (0, 1, 2, 4, 10):
        Image.fromarray(np.full((8, 8, 3), 20 * i, np.uint8)).save(seq / f"f{i}.png")
    with open_video(seq, fps=10) as r:
        assert r.missing == (3, 5, 6, 7, 8, 9) and r.frame_count == 11
        values = [int(f[0, 0, 0]) for f in r]
        assert r.timing.times[-1] == pytest.approx(1.0)
    assert values == [0, 20, 40, 40, 80, 80, 80, 80, 80, 80, 200]
