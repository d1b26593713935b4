"""Temporal consistency: the flow-warping error.

For consecutive frames t-1, t the optical flow is computed on REFERENCE frames R (the real video
or the driving frames), never on the generated ones, with OpenCV's DIS estimator (weight-free):
f = flow(R_t -> R_{t-1}), so R_t(x) ~ R_{t-1}(x + f(x)). The generated frame t-1 is warped with
it and compared to the generated frame t, L1 on [0, 1], over pixels where the flow is reliable
(forward-backward consistent and inside the frame):

    E_warp = sum_x M(x) |G_t(x) - G_{t-1}(x + f(x))| / (3 sum_x M(x))

The same figure for the reference video itself (R instead of G) is returned next to it: a
perfect, temporally consistent output would come close to it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import cv2
import numpy as np

from v2vtool.metrics.common import as_uint8_rgb


@dataclass(frozen=True)
class WarpErrorResult:
    generated: float        # mean masked warp L1 of the generated frames ([0, 1] scale)
    reference: float        # the same figure for the reference frames themselves
    pairs: int              # frame pairs scored
    valid_fraction: float   # mean fraction of pixels inside the reliability mask

    def to_dict(self) -> dict:
        return {"warp_error": self.generated, "warp_error_reference": self.reference,
                "pairs": self.pairs, "valid_fraction": self.valid_fraction}


def _dis():
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)


def dis_flow(src: np.ndarray, dst: np.ndarray, dis=None) -> np.ndarray:
    """(H, W, 2) float32 flow f with src(x) ~ dst(x + f(x)) (inputs (H, W, 3) uint8 RGB)."""
    dis = dis or _dis()
    a = cv2.cvtColor(as_uint8_rgb(src), cv2.COLOR_RGB2GRAY)
    b = cv2.cvtColor(as_uint8_rgb(dst), cv2.COLOR_RGB2GRAY)
    return dis.calc(a, b, None)


def backward_warp(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample img at x + flow(x) (bilinear, border replicate). img (H, W, C) any dtype."""
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def reliable_mask(flow_tb: np.ndarray, flow_bt: np.ndarray) -> np.ndarray:
    """(H, W) bool: forward-backward consistent (Sundaram et al. 2010) and in-bounds."""
    h, w = flow_tb.shape[:2]
    back = backward_warp(flow_bt, flow_tb)
    s = flow_tb + back
    cons = (s ** 2).sum(-1) < 0.01 * ((flow_tb ** 2).sum(-1) + (back ** 2).sum(-1)) + 0.5
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    x, y = gx + flow_tb[..., 0], gy + flow_tb[..., 1]
    inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    return cons & inside


def _masked_l1(cur: np.ndarray, warped: np.ndarray, mask: np.ndarray) -> float:
    d = np.abs(cur.astype(np.float32) - warped.astype(np.float32)).mean(-1) / 255.0
    n = mask.sum()
    return float((d * mask).sum() / n) if n else float("nan")


def warp_error(generated: Iterable[np.ndarray], reference: Iterable[np.ndarray]) -> WarpErrorResult:
    """Flow-warping error of `generated` with flow from `reference` (same length and size).

    Streams: only the previous pair of frames is held. Raises ValueError when fewer than 2
    frames or mismatched shapes/lengths."""
    dis = _dis()
    prev_g = prev_r = None
    errs_g, errs_r, fracs = [], [], []
    n_g = n_r = 0
    for g, r in _zip_strict(generated, reference):
        g, r = as_uint8_rgb(g, "generated"), as_uint8_rgb(r, "reference")
        if g.shape != r.shape:
            raise ValueError(f"warp error: generated {g.shape} vs reference {r.shape}")
        n_g += 1
        n_r += 1
        if prev_g is not None:
            f_tb = dis_flow(r, prev_r, dis)       # R_t(x) ~ R_{t-1}(x + f)
            f_bt = dis_flow(prev_r, r, dis)
            mask = reliable_mask(f_tb, f_bt)
            fracs.append(float(mask.mean()))
            if mask.any():
                errs_g.append(_masked_l1(g, backward_warp(prev_g, f_tb), mask))
                errs_r.append(_masked_l1(r, backward_warp(prev_r, f_tb), mask))
        prev_g, prev_r = g, r
    if n_g < 2:
        raise ValueError("warp error needs at least 2 frames")
    if not errs_g:
        raise ValueError("warp error: no reliable flow pixels in any frame pair")
    return WarpErrorResult(float(np.mean(errs_g)), float(np.mean(errs_r)), len(errs_g),
                           float(np.mean(fracs)))


def _zip_strict(a: Iterable, b: Iterable):
    ia, ib = iter(a), iter(b)
    sentinel = object()
    while True:
        x, y = next(ia, sentinel), next(ib, sentinel)
        if x is sentinel and y is sentinel:
            return
        if x is sentinel or y is sentinel:
            raise ValueError("warp error: generated and reference have different frame counts")
        yield x, y
