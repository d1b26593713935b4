"""Temporal smoothing of keypoints with the One-Euro filter (Casiez, Roussel, Vogel, CHI 2012).

The One-Euro filter is an adaptive low-pass filter: at rest its cutoff is `min_cutoff` (Hz),
removing jitter; as the point moves faster the cutoff grows by `beta` * speed, so fast motion
is followed with little lag:

    alpha(fc) = 1 / (1 + 1 / (2 pi fc dt))
    dx_hat_t  = alpha(d_cutoff) * (x_t - x_hat_{t-1}) / dt + (1 - alpha(d_cutoff)) * dx_hat_{t-1}
    fc        = min_cutoff + beta * |dx_hat_t|
    x_hat_t   = alpha(fc) * x_t + (1 - alpha(fc)) * x_hat_{t-1}

Coordinates are filtered in units of the frame height (so the settings do not depend on the
resolution) and speed is the 2-D speed of each point. A point that goes missing (confidence 0)
resets its filter; it restarts unfiltered when it reappears. Causal: one frame in, one out.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from v2vtool.io.keypoints import Frame, Person


@dataclass(frozen=True)
class SmoothingSettings:
    min_cutoff: float = 1.0  # Hz: cutoff at rest (lower = smoother, more lag at low speed)
    beta: float = 4.0        # cutoff increase per (frame heights / s) of speed
    d_cutoff: float = 1.0    # Hz: cutoff of the speed estimate


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    return 1.0 / (1.0 + 1.0 / (2.0 * np.pi * cutoff * dt))


class OneEuroFilter:
    """One-Euro filter over N 2-D points at once. `__call__(xy (N, 2), valid (N,), t) -> (N, 2)`."""

    def __init__(self, settings: SmoothingSettings = SmoothingSettings()):
        self.s = settings
        self.x: np.ndarray | None = None
        self.dx: np.ndarray | None = None
        self.valid: np.ndarray | None = None
        self.t: float | None = None

    def reset(self) -> None:
        self.x = self.dx = self.valid = self.t = None

    def __call__(self, xy: np.ndarray, valid: np.ndarray, t: float) -> np.ndarray:
        xy = np.asarray(xy, np.float64)
        valid = np.asarray(valid, bool)
        if self.x is None or self.t is None or t <= self.t or self.x.shape != xy.shape:
            self.x, self.dx, self.valid, self.t = xy.copy(), np.zeros_like(xy), valid.copy(), t
            return xy.copy()
        dt = t - self.t
        keep = valid & self.valid  # points with history: filter them
        dx = (xy - self.x) / dt
        a_d = _alpha(self.s.d_cutoff, dt)
        dx_hat = a_d * dx + (1.0 - a_d) * self.dx
        cutoff = self.s.min_cutoff + self.s.beta * np.linalg.norm(dx_hat, axis=1, keepdims=True)
        a = _alpha(cutoff, dt)
        x_hat = a * xy + (1.0 - a) * self.x
        out = np.where(keep[:, None], x_hat, xy)
        self.dx = np.where(keep[:, None], dx_hat, 0.0)
        self.x, self.valid, self.t = out, valid.copy(), t
        return out


class KeypointSmoother:
    """Smooths one person's keypoints over a sequence of frames (body, face, hands separately).

    Frames with nobody (or with several people, where identities are unknown) reset the filters
    and pass through unchanged.
    """

    PARTS = ("pose", "face", "hand_left", "hand_right")

    def __init__(self, height: int, settings: SmoothingSettings = SmoothingSettings()):
        self.height = float(height)
        self.filters = {p: OneEuroFilter(settings) for p in self.PARTS}

    def reset(self) -> None:
        for f in self.filters.values():
            f.reset()

    def __call__(self, frame: Frame, t: float) -> Frame:
        """frame: the detections of one video frame; t: its time in seconds."""
        if len(frame) != 1:
            self.reset()
            return frame
        person = frame[0]
        parts = {}
        for name in self.PARTS:
            arr = getattr(person, name)
            valid = arr[:, 2] > 0
            out = arr.copy()
            if valid.any():
                xy = self.filters[name](arr[:, :2] / self.height, valid, t) * self.height
                out[valid, :2] = xy[valid].astype(np.float32)
            else:
                self.filters[name].reset()
            parts[name] = out
        return [Person(**parts)]
