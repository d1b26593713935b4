"""The metric table: every score `v2v evaluate` and the benchmark report, defined once.

A `Metric` row names its score, the inputs it needs, how it is computed and which way is
better. `score(inputs, rows)` computes every row whose needs the `Inputs` meet and says why the
others were skipped; `evaluate_video` (metrics/evaluate.py) and the benchmark's
`score_sequence` (benchmark.py) both call it, so adding a metric is one function (in its own
module) plus one row here.

Two kinds of rows:
  frame rows  `frame(pair) -> float | None` per paired frame; the report holds the mean over the
              frames where it is defined (None = undefined for that frame);
  video rows  `video(inputs, per_frame) -> dict` once per video (sequence metrics, or summaries
              of the frame rows' per-frame values); the dict holds the row's own value under
              its name plus details (counts, companions). A ValueError skips the row.
Needs (`Inputs` fields): "truth" paired true frames, "mask" true person masks, "lpips" an LPIPS
model, "fid" an Inception model + real frames, "flow" frames to take optical flow from, "poses"
driving poses + a pose estimator, "examples" where the examples' own person stood in the output
frame (the ring error), "appearance" the example person's colours and the driven person's
regions (the identity score). A frame row may return any value per frame and a `reduce` that
turns the defined ones into the report (default: their mean).
Rows marked `real` were made for the real-footage protocol (benchmark_real.py); the procedural
benchmark leaves them out of its table, `v2v evaluate` reports them where its inputs allow.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from v2vtool.metrics.appearance import appearance_distance
from v2vtool.metrics.drift import QUARTERS, quarter_psnr
from v2vtool.metrics.keypoint_distance import keypoint_distance
from v2vtool.metrics.masked import ghost_l1, person_psnr
from v2vtool.metrics.pose import REFERENCE_HEIGHT, pose_error
from v2vtool.metrics.reconstruction import l1, psnr, ssim
from v2vtool.metrics.ring import ring_l1
from v2vtool.metrics.sharpness import sharpness_ratio, sharpness_sums
from v2vtool.metrics.temporal import warp_error

HIGHER, LOWER, NEAR_ONE = "higher", "lower", "nearer 1"


@dataclass(frozen=True)
class Column:
    """A reported number: its key, short label (table column) and which way is better."""

    key: str
    label: str
    better: str


@dataclass(frozen=True)
class Metric:
    name: str  # report key of its main value
    label: str  # short column label
    better: str  # HIGHER | LOWER
    needs: tuple[str, ...]  # `Inputs` fields that must be present
    title: str  # for messages ("warp error skipped: ...")
    frame: Callable[["FramePair"], Any] | None = None
    video: Callable[["Inputs", dict], dict] | None = None
    extra: tuple[Column, ...] = ()  # further summary values the row reports (benchmark columns)
    long: bool = False  # summarises a long video (drift): the benchmark's long driver only
    min_side: int = 1  # smallest frame side (px) where the score is defined / meaningful
    reduce: Callable[[list], float | None] | None = None  # frame values -> report (None: mean)
    real: bool = False  # a real-footage protocol row (module docstring)

    @property
    def columns(self) -> tuple[Column, ...]:
        return (Column(self.name, self.label, self.better),) + self.extra


@dataclass
class PoseInputs:
    """Driving poses ((25, 3) in generated pixels, or None per frame) and how to estimate poses
    on generated frames (`estimate(frames) -> poses`)."""

    driving: list
    estimate: Callable[[Iterable[np.ndarray]], Iterable[np.ndarray | None]]
    joints: Any
    frame_height: int
    reference_height: int = REFERENCE_HEIGHT
    estimator: str = ""  # its name, for reports


@dataclass
class Inputs:
    """What a video is scored with. Frame sequences are re-iterable (a list, or a source that
    streams anew on every iteration, so nothing is held in memory)."""

    generated: Iterable[np.ndarray]  # (H, W, 3) uint8
    frames: int  # generated frames paired with the truth / masks (the first n)
    truth: Iterable[np.ndarray] | None = None  # same size as generated
    masks: Iterable[np.ndarray] | None = None  # (H, W) true person masks, nonzero = person
    lpips: Any = None  # LPIPSModel
    device: str = "cpu"
    fid: Any = None  # (FIDModel, real frames)
    flow: Iterable[np.ndarray] | None = None  # frames whose optical flow the warp error uses
    flow_frames: int = 0  # frames of `generated` / `flow` paired for the warp error
    poses: PoseInputs | None = None
    examples: np.ndarray | None = None  # (H, W) bool: the examples' own person, output frame
    appearance: Any = None  # metrics.appearance.AppearanceInputs

    def available(self) -> set[str]:
        have = {"truth": self.truth, "mask": self.masks, "lpips": self.lpips, "fid": self.fid,
                "flow": self.flow, "poses": self.poses, "examples": self.examples,
                "appearance": self.appearance}
        return {k for k, v in have.items() if v is not None}


@dataclass
class FramePair:
    generated: np.ndarray
    truth: np.ndarray
    mask: np.ndarray | None
    inputs: Inputs


def _take(it: Iterable, n: int):
    return itertools.islice(it, max(0, n))


# ---- rows ------------------------------------------------------------------------------------

def _lpips(pair: FramePair) -> float:
    from v2vtool.metrics.perceptual import lpips_distance

    return lpips_distance(pair.inputs.lpips, pair.generated, pair.truth, pair.inputs.device)


def _drift(inputs: Inputs, per_frame: dict) -> dict:
    values = per_frame.get("psnr")
    if values is None:  # psnr not among the rows scored with it
        values = [psnr(g, t) for g, t in _take(zip(inputs.generated, inputs.truth),
                                               inputs.frames)]
    return quarter_psnr(values)


def _fid(inputs: Inputs, per_frame: dict) -> dict:
    from v2vtool.metrics import fid as fidm

    model, real = inputs.fid
    value = fidm.fid_from_activations(
        fidm.inception_activations(model, inputs.generated, device=inputs.device),
        fidm.inception_activations(model, real, device=inputs.device))
    return {"fid": value, "fid_official_weights": model.official}


def _warp(inputs: Inputs, per_frame: dict) -> dict:
    n = inputs.flow_frames
    return warp_error(_take(inputs.generated, n), _take(inputs.flow, n)).to_dict()


def _pose(inputs: Inputs, per_frame: dict) -> dict:
    p = inputs.poses
    m = min(len(p.driving), inputs.frames)
    res = pose_error(p.estimate(_take(inputs.generated, m)), p.driving[:m],
                     frame_height=p.frame_height, reference_height=p.reference_height,
                     joints=p.joints)
    return res.to_dict()


def _akd(inputs: Inputs, per_frame: dict) -> dict:
    p = inputs.poses
    out = list(p.estimate(_take(inputs.generated, inputs.frames)))
    truth = list(p.estimate(_take(inputs.truth, inputs.frames)))
    n = min(len(out), len(truth))
    res = keypoint_distance(out[:n], truth[:n], frame_height=p.frame_height,
                            reference_height=p.reference_height, joints=p.joints)
    if not res.truth_joints:
        raise ValueError("the pose estimator found nobody on any true frame")
    return res.to_dict()


def _identity(inputs: Inputs, per_frame: dict) -> dict:
    return appearance_distance(_take(inputs.generated, inputs.frames), inputs.appearance)


METRICS: tuple[Metric, ...] = (
    Metric("psnr", "psnr", HIGHER, ("truth",), "PSNR",
           frame=lambda p: psnr(p.generated, p.truth)),
    # SSIM: a 3x3 window at least (scikit-image divides by window pixels - 1)
    Metric("ssim", "ssim", HIGHER, ("truth",), "SSIM",
           frame=lambda p: ssim(p.generated, p.truth), min_side=3),
    Metric("l1", "l1", LOWER, ("truth",), "L1", frame=lambda p: l1(p.generated, p.truth)),
    # LPIPS (AlexNet): its two strided pools need >= 31 px; FID: Inception sees frames scaled
    # to 299 px, which below 32 px is a blur of a few pixels (no published FID is of such)
    Metric("lpips", "lpips", LOWER, ("truth", "lpips"), "LPIPS", frame=_lpips, min_side=32),
    Metric("person_psnr", "person", HIGHER, ("truth", "mask"), "person PSNR",
           frame=lambda p: person_psnr(p.generated, p.truth, p.mask)),
    Metric("ghost_l1", "ghost", LOWER, ("truth", "mask"), "ghost error",
           frame=lambda p: ghost_l1(p.generated, p.truth, p.mask)),
    Metric("sharpness", "sharp", NEAR_ONE, ("truth", "mask"), "person sharpness",
           frame=lambda p: sharpness_sums(p.generated, p.truth, p.mask),
           reduce=sharpness_ratio, real=True),
    Metric("ring_l1", "ring", LOWER, ("truth", "mask", "examples"), "ring error",
           frame=lambda p: ring_l1(p.generated, p.truth, p.mask, p.inputs.examples),
           real=True),
    Metric("psnr_drift", "drift", HIGHER, ("truth",), "PSNR drift", video=_drift, long=True,
           extra=tuple(Column(f"psnr_q{i}", f"q{i}", HIGHER) for i in range(1, QUARTERS + 1))),
    Metric("fid", "fid", LOWER, ("fid",), "FID", video=_fid, min_side=32),
    Metric("pose_error", "pose", LOWER, ("poses",), "pose error", video=_pose,
           extra=(Column("pose_missing_rate", "miss", LOWER),)),
    Metric("akd", "akd", LOWER, ("truth", "poses"), "keypoint distance (AKD)", video=_akd,
           extra=(Column("mkr", "mkr", LOWER), Column("akd_frames", "akd n", HIGHER),
                  Column("akd_truth_nobody", "t-none", LOWER),
                  Column("akd_output_nobody", "o-none", LOWER)), real=True),
    # warp error: OpenCV's DIS flow refuses frames below 12 px
    Metric("warp_error", "warp", LOWER, ("flow",), "warp error", video=_warp, min_side=12,
           extra=(Column("warp_error_reference", "warp(ref)", LOWER),)),
    Metric("identity", "ident", LOWER, ("appearance",), "identity score", video=_identity,
           real=True),
)


def metric(name: str) -> Metric:
    return next(m for m in METRICS if m.name == name)


def rows(*names: str) -> tuple[Metric, ...]:
    """The named rows, in table order."""
    return tuple(m for m in METRICS if m.name in names)


@dataclass
class Scores:
    values: dict  # report key -> value (rows' main values and details)
    missing: dict  # row name -> the needs the inputs lacked
    skipped: dict  # row name -> why it failed ("warp error skipped: ...")
    per_frame: dict  # frame row name -> list of per-frame values (None = undefined)


def _frame_size(inputs: Inputs) -> tuple[int, int] | None:
    """(w, h) of the first generated frame (None: no frames)."""
    first = next(iter(inputs.generated), None)
    return None if first is None else (int(first.shape[1]), int(first.shape[0]))


def score(inputs: Inputs, metrics: Iterable[Metric] = METRICS) -> Scores:
    """Compute every row of `metrics` the inputs allow (table order), one pass over the frames
    for all frame rows."""
    have = inputs.available()
    todo, missing, skipped = [], {}, {}
    for m in metrics:
        lacking = [n for n in m.needs if n not in have]
        if lacking:
            missing[m.name] = lacking
        else:
            todo.append(m)
    if any(m.min_side > 1 for m in todo):
        size = _frame_size(inputs)
        for m in [m for m in todo if size is not None and min(size) < m.min_side]:
            todo.remove(m)
            skipped[m.name] = (f"{m.title} skipped: frames of {size[0]}x{size[1]} px are "
                               f"smaller than the {m.min_side} px per side it needs")
    framewise = [m for m in todo if m.frame is not None]
    per_frame: dict[str, list] = {m.name: [] for m in framewise}
    if framewise:
        use_masks = any("mask" in m.needs for m in framewise)
        masks = inputs.masks if use_masks else itertools.repeat(None)
        for g, t, mk in _take(zip(inputs.generated, inputs.truth, masks), inputs.frames):
            pair = FramePair(g, t, mk, inputs)
            for m in framewise:
                per_frame[m.name].append(m.frame(pair))
    values: dict = {}
    for m in todo:
        if m.frame is not None:
            defined = [v for v in per_frame[m.name] if v is not None]
            value = (m.reduce(defined) if m.reduce is not None else float(np.mean(defined))
                     ) if defined else None
            if value is not None:
                values[m.name] = float(value)
            else:
                skipped[m.name] = f"{m.title} skipped: not defined on any frame"
            continue
        try:
            values.update(m.video(inputs, per_frame))
        except ValueError as exc:
            skipped[m.name] = f"{m.title} skipped: {exc}"
    return Scores(values, missing, skipped, per_frame)
