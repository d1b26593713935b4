"""How a video's frames are meant to be shown: the display matrix or the legacy `rotate` tag.

A phone records portrait video as landscape frames plus a display matrix that says "turn this
90 degrees clockwise for display" (FFmpeg reports it as a rotation of -90 degrees). Readers
that ignore it see the person lying on their side. `Orientation` turns the matrix (or, without
one, the older `rotate` metadata tag, in degrees clockwise) into the few array operations that
make a frame upright, with FFmpeg's own case rules (fftools' autorotate), so frames come out
as `ffmpeg` / a phone's player shows them.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Orientation:
    """transpose, then flip rows (vflip), then flip columns (hflip): any multiple of 90
    degrees with or without a mirror. degrees: the rotation as FFmpeg reports it
    (counter-clockwise; a portrait phone video is -90); source: where it was read."""

    transpose: bool = False
    vflip: bool = False
    hflip: bool = False
    degrees: int = 0
    mirrored: bool = False
    source: str | None = None

    @property
    def identity(self) -> bool:
        return not (self.transpose or self.vflip or self.hflip)

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """(H, W[, C]) as stored -> upright (a contiguous copy when anything changes)."""
        if self.identity:
            return frame
        if self.transpose:
            frame = frame.swapaxes(0, 1)
        if self.vflip:
            frame = frame[::-1]
        if self.hflip:
            frame = frame[:, ::-1]
        return np.ascontiguousarray(frame)

    def size(self, stored: tuple[int, int]) -> tuple[int, int]:
        """Upright (w, h) of frames stored as `stored` (w, h)."""
        return (stored[1], stored[0]) if self.transpose else tuple(stored)

    def describe(self) -> dict | None:
        """What meta.json / a sidecar records (None when frames are stored upright)."""
        if self.source is None:
            return None
        return {"degrees": self.degrees, "mirrored": self.mirrored, "source": self.source,
                "applied": True}


def _clockwise(theta: float) -> int | None:
    """A clockwise angle as 0 / 90 / 180 / 270, or None when not a multiple of 90."""
    theta -= 360 * math.floor(theta / 360 + 0.9 / 360)
    for q in (0, 90, 180, 270, 360):
        if abs(theta - q) < 1.0:
            return q % 360
    return None


def from_display_matrix(m: np.ndarray, where: str = "video") -> Orientation:
    """From FFmpeg's 3x3 display matrix (9 int32, 16.16 fixed point, row-major)."""
    m = [int(v) for v in np.asarray(m).reshape(-1)[:9]]
    if math.hypot(m[0], m[3]) == 0 or math.hypot(m[1], m[4]) == 0:
        return Orientation()
    theta = math.degrees(math.atan2(m[1] / math.hypot(m[1], m[4]),
                                    m[0] / math.hypot(m[0], m[3])))
    q = _clockwise(round(theta))
    mirrored = (m[0] * m[4] - m[1] * m[3]) < 0
    if q is None:
        log.warning("%s: display rotation of %.0f degrees is not a multiple of 90; frames "
                    "are read as stored", where, -theta)
        return Orientation()
    if q == 90:  # transpose filter: clock, or cclock_flip for a mirrored matrix
        ops = (True, False, False) if m[3] > 0 else (True, False, True)
    elif q == 270:  # cclock, or clock_flip
        ops = (True, True, True) if m[3] < 0 else (True, True, False)
    elif q == 180:
        ops = (False, m[4] < 0, m[0] < 0)
    else:
        ops = (False, m[4] < 0, False)
    if not any(ops):
        return Orientation()
    return Orientation(*ops, degrees=int(-q if q < 180 else 360 - q), mirrored=mirrored,
                       source="display matrix")


def from_rotate_tag(value: str | None, where: str = "video") -> Orientation:
    """From the legacy `rotate` metadata tag (degrees clockwise, e.g. "90")."""
    if value is None:
        return Orientation()
    try:
        q = _clockwise(float(value))
    except ValueError:
        q = None
    if q is None:
        log.warning("%s: rotate tag %r is not a multiple of 90 degrees; frames are read as "
                    "stored", where, value)
        return Orientation()
    ops = {0: None, 90: (True, False, True), 180: (False, True, True),
           270: (True, True, False)}[q]
    if ops is None:
        return Orientation()
    return Orientation(*ops, degrees=int(-q if q < 180 else 360 - q), source="rotate tag")
