"""Drift: does quality hold over a long video? PSNR per quarter of the frames.

The frames are split into four contiguous quarters (`numpy.array_split`: sizes differ by at
most one frame); each quarter's value is the mean per-frame PSNR over it, and the drift is the
last quarter minus the first (dB; negative = the video gets worse as it goes on).
"""
from __future__ import annotations

import numpy as np

QUARTERS = 4


def quarter_psnr(per_frame_psnr: list[float]) -> dict[str, float]:
    """{"psnr_q1".."psnr_q4", "psnr_drift"} from the per-frame PSNRs of one video, in order."""
    values = np.asarray(per_frame_psnr, np.float64)
    if values.size < QUARTERS:
        raise ValueError(f"needs at least {QUARTERS} frames (got {values.size})")
    out = {f"psnr_q{i + 1}": float(part.mean())
           for i, part in enumerate(np.array_split(values, QUARTERS))}
    out["psnr_drift"] = out[f"psnr_q{QUARTERS}"] - out["psnr_q1"]
    return out
