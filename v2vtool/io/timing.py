"""When each frame of a sequence is shown: timestamps, variable frame rate, mean rate, duration.

Videos give their frames' timestamps (pts x time_base), image folders and keypoint files
times from a frame rate, clip dirs what extract recorded (meta.json "frame_times", else times
from "fps"). A phone records at a variable frame rate (VFR): the header's rate is then no
description of the video, and writing its frames at that rate changes its duration (a 13 s
driver came out as a 2 s video). `Timing` is the one description every reader gives and every
writer of timed output (synthesize, extract) reads.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

VFR_TOLERANCE = 0.1  # an interval this far (relative) from the median one makes a stream VFR
RATE_TOLERANCE = 0.01  # a declared rate this far from the measured one is not believed


@dataclass(frozen=True)
class Timing:
    """times: seconds of each frame from the first (non-decreasing, times[0] == 0);
    nominal_fps: the rate the source declares (header, --fps, meta.json)."""

    times: tuple[float, ...]
    nominal_fps: float

    @classmethod
    def constant(cls, count: int, fps: float) -> "Timing":
        return cls(tuple(i / fps for i in range(max(count, 1))), float(fps))

    @classmethod
    def from_stamps(cls, stamps: Sequence[float], nominal_fps: float) -> "Timing":
        """From raw timestamps in seconds (any origin, any order: sorted, shifted to 0)."""
        s = sorted(float(t) for t in stamps if t is not None and math.isfinite(t))
        if len(s) != len(stamps) or not s:
            return cls.constant(len(stamps), nominal_fps)
        return cls(tuple(t - s[0] for t in s), float(nominal_fps))

    @cached_property
    def _intervals(self) -> list[float]:
        return [b - a for a, b in zip(self.times, self.times[1:])]

    @cached_property
    def vfr(self) -> bool:
        """Whether the frames come at irregular intervals (more than 10% off the median)."""
        d = self._intervals
        if len(d) < 2:
            return False
        med = sorted(d)[len(d) // 2]
        if med <= 0:
            return any(x > 0 for x in d)
        return any(abs(x - med) > VFR_TOLERANCE * med for x in d)

    @cached_property
    def fps(self) -> float:
        """The rate that describes the frames: the mean rate of a VFR stream; for a constant
        one the declared rate, unless the timestamps say otherwise (then theirs)."""
        n = len(self.times)
        if n < 2 or self.times[-1] <= 0:
            return self.nominal_fps
        mean = (n - 1) / self.times[-1]
        if self.vfr or abs(mean - self.nominal_fps) > RATE_TOLERANCE * self.nominal_fps:
            return mean
        return self.nominal_fps

    @property
    def duration(self) -> float:
        """Seconds the frames cover: the last frame's time plus one frame at `fps`."""
        return self.times[-1] + 1.0 / self.fps

    def time(self, i: int) -> float:
        """Frame i's time; past the known frames, continued at `fps`."""
        if i < len(self.times):
            return self.times[i]
        return self.times[-1] + (i - len(self.times) + 1) / self.fps

    def head(self, count: int) -> "Timing":
        """The timing of the first `count` frames (e.g. extract --max-frames)."""
        return Timing(tuple(self.time(i) for i in range(max(count, 1))), self.nominal_fps)

    def describe(self) -> dict:
        """What a sidecar records about the timing (JSON-ready)."""
        return {"vfr": self.vfr, "fps": round(self.fps, 6), "duration": round(self.duration, 6),
                "frames": len(self.times)}
