"""Phone-style test videos made with PyAV: frames stored landscape with a display matrix (or the
legacy `rotate` tag) that turns them portrait, and variable-frame-rate timestamps."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TIME_BASE = Fraction(1, 1000)  # millisecond timestamps, as phones' mkv / many muxers use


def vfr_times(n: int) -> list[float]:
    """n irregular frame times (s): bursts at 30 fps separated by pauses of 0.2-0.3 s."""
    times, t = [], 0.0
    for i in range(n):
        times.append(round(t, 3))
        t += 0.25 if i % 4 == 3 else 1 / 30
    return times


def write_video(path: Path, stored: list[np.ndarray], times: list[float] | None = None,
                fps: int = 15, display_rotation: float | None = None,
                rotate_tag: str | None = None) -> Path:
    """Write frames exactly as given (stored orientation), H.264 without B-frames.

    times: each frame's time in seconds (VFR), else i / fps; display_rotation: PyAV's
    `set_display_rotation` (counter-clockwise degrees: a portrait phone video is -90);
    rotate_tag: the legacy `rotate` metadata tag (clockwise degrees), kept by Matroska."""
    fmt = "matroska" if path.suffix == ".mkv" else "mp4"
    h, w = stored[0].shape[:2]
    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"crf": "12", "bf": "0", "preset": "veryfast"}
        s.time_base = s.codec_context.time_base = TIME_BASE
        if display_rotation is not None:
            s.set_display_rotation(display_rotation)
        if rotate_tag is not None:
            s.metadata["rotate"] = rotate_tag
        for i, img in enumerate(stored):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            t = times[i] if times is not None else i / fps
            f.pts, f.time_base = round(t / TIME_BASE), TIME_BASE
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


def marker_frames(n: int, size: tuple[int, int] = (96, 128)) -> list[np.ndarray]:
    """n upright (h, w) = (size[1], size[0]) frames: gray, a white block in the top-left
    corner and a brightness that grows with the frame index."""
    w, h = size
    out = []
    for i in range(n):
        img = np.full((h, w, 3), 40 + 4 * i, np.uint8)
        img[:16, :12] = 255
        out.append(img)
    return out


def dancer_frames(n: int, size: tuple[int, int] = (96, 128)) -> list[np.ndarray]:
    """The first n frames of the shipped procedural driver video (a dancer mediapipe finds),
    scaled to height h and centre-cropped to an upright portrait (w, h) = size."""
    from v2vtool.io.video import read_frames

    import cv2

    w, h = size
    out = []
    for f in read_frames(EXAMPLES / "driver.mp4", limit=n):
        s = h / f.shape[0]  # the whole dancer, whatever the shipped video's size
        f = cv2.resize(f, (round(f.shape[1] * s), h), interpolation=cv2.INTER_AREA)
        y0, x0 = (f.shape[0] - h) // 2, (f.shape[1] - w) // 2
        out.append(np.ascontiguousarray(f[y0:y0 + h, x0:x0 + w]))
    return out


def stored_landscape(upright: list[np.ndarray]) -> list[np.ndarray]:
    """How a phone stores portrait frames shown with a -90 display rotation (90 degrees
    clockwise): the upright picture turned 90 degrees counter-clockwise."""
    return [np.ascontiguousarray(np.rot90(f, 1)) for f in upright]
