"""`v2v evaluate` as a library function: score a generated video with whatever its inputs allow.

    report = evaluate_video("out.mp4", real="truth_clip/", driver="driver_clip/")
    report.metrics   # {"psnr": ..., "ssim": ..., "warp_error": ..., "pose_error": ..., ...}
    report.skipped   # {"fid": "FID unavailable: Inception weights file ... not found ...", ...}

Inputs are videos, PNG folders or clip directories; everything is streamed (frames are never
all held in memory; FID keeps one 2048-d vector per frame). When sizes differ, the real /
driver frames are resized to the generated size, and driver keypoints scaled with them.

The metrics themselves are the rows of the metric table (metrics/table.py); this module opens
the inputs and runs the table in four steps, grouped by what the rows need: paired frames
(reconstruction, + masks), the real set (FID), a flow source (temporal), driving poses (pose).
"""
from __future__ import annotations

import importlib.metadata
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from v2vtool import __version__
from v2vtool.errors import UserError
from v2vtool.io.clipdir import Clip, is_clip_dir
from v2vtool.io.keypoints import main_person
from v2vtool.metrics.common import MetricUnavailable
from v2vtool.metrics.frames import FrameSource, driver_frames, hash_path
from v2vtool.metrics.pose import REFERENCE_HEIGHT
from v2vtool.metrics.sidecar import find_sidecar, resolve_view, synthesis_driving_poses
from v2vtool.metrics import table
from v2vtool.metrics.table import Inputs, PoseInputs, score

log = logging.getLogger(__name__)

VERSION_PACKAGES = ("torch", "torchvision", "numpy", "scikit-image", "opencv-contrib-python",
                    "lpips", "pytorch-fid", "mediapipe")


@dataclass
class EvaluationReport:
    metrics: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)  # metric -> why it was not computed
    inputs: dict = field(default_factory=dict)   # role -> {path, sha256, frames, size}
    notes: list = field(default_factory=list)
    versions: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"format": "v2v-metrics/1", "metrics": self.metrics, "skipped": self.skipped,
                "inputs": self.inputs, "notes": self.notes, "versions": self.versions}


def versions() -> dict:
    out = {"v2vtool": __version__}
    for name in VERSION_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


# Why a row was skipped, in the words of the CLI's options (by what it needs).
NEEDS_HINTS = {
    "truth": "needs --real (ground-truth frames)",
    "mask": "needs true person masks (--real as a clip dir with masks/)",
    "lpips": "needs the LPIPS backbone weights (--lpips-backbone)",
    "fid": "needs --real (a set of real frames)",
    "flow": "needs --real or a --driver with frames (flow source)",
    "poses": "needs --driver (the driving poses)",
    "examples": "only the real-footage benchmark knows where the examples' person stood "
                "(v2v evaluate --benchmark CLIPS)",
    "appearance": "only the real-footage benchmark's cross-identity rows "
                  "(v2v evaluate --benchmark CLIPS)",
}


BENCHMARK_ONLY = ("examples", "appearance")


@dataclass
class _Sources:
    """The opened inputs of one evaluation."""

    gen: FrameSource
    real: FrameSource | None
    driver: Path | None
    driver_frames: FrameSource | None  # the driver's pictures (clip dir / video), if any
    sidecar: dict | None  # the synthesis sidecar next to the generated video
    driver_keypoints: tuple | None  # (Frames, size) of the driver, read once
    paired: int  # generated frames paired with the real ones
    view: object | None = None  # the synthesizer's view (data.view.ViewRecord), if known

    @property
    def size(self) -> tuple[int, int]:
        return self.gen.size


def _rows(needs: set[str]) -> list:
    """The table rows computed from these kinds of inputs (one evaluation step)."""
    return [m for m in table.METRICS if set(m.needs) <= needs]


def _report(rep: EvaluationReport, scores) -> None:
    """Values into the report; skipped rows with the reason (a reason already given, e.g. a
    missing weights file, is kept)."""
    rep.metrics.update(scores.values)
    why = {**{n: NEEDS_HINTS[lacking[0]] for n, lacking in scores.missing.items()},
           **scores.skipped}
    for name, reason in why.items():
        rep.skipped.setdefault(name, reason)


def evaluate_video(generated: str | os.PathLike, real: str | os.PathLike | None = None,
                   driver: str | os.PathLike | None = None,
                   fid_weights: str | os.PathLike | None = None,
                   lpips_backbone: str | os.PathLike | None = None,
                   pose_estimator: str = "auto", keynet_dir: str | os.PathLike | None = None,
                   reference_height: int = REFERENCE_HEIGHT, device: str = "cpu",
                   progress: Callable[[str], None] | None = None,
                   fetch_weights: bool = True) -> EvaluationReport:
    """Compute every metric the inputs allow; list the others in `skipped` with the reason.
    `fetch_weights`: download missing LPIPS / FID weights (`v2vtool.io.pretrained`; never when
    offline)."""
    say = progress or (lambda s: None)
    rep = EvaluationReport(versions=versions())
    src = _open(generated, real, driver, rep)
    _align_to_synthesis(src, rep)
    _pair(src, rep)
    _reconstruction(src, rep, lpips_backbone, device, say, fetch_weights)
    _fid(src, rep, fid_weights, device, say, fetch_weights)
    _temporal(src, rep, say)
    _pose(src, rep, pose_estimator, keynet_dir, reference_height, say)
    for m in table.METRICS:  # rows whose inputs only the real-footage benchmark has
        lacking = [n for n in BENCHMARK_ONLY if n in m.needs]
        if lacking:
            rep.skipped.setdefault(m.name, NEEDS_HINTS[lacking[0]])
    return rep


def _open(generated, real, driver, rep: EvaluationReport) -> _Sources:
    gen = FrameSource(generated, "generated")
    rep.inputs["generated"] = gen.describe()
    real_src = FrameSource(real, "real") if real is not None else None
    drv_src = None
    dp = Path(driver) if driver is not None else None
    if dp is not None:
        if not dp.exists():
            raise UserError(f"{dp}: --driver: no such file or directory")
        rep.inputs["driver"] = {"path": str(dp), "sha256": hash_path(dp)}
        if is_clip_dir(dp) or dp.is_file() and dp.suffix != ".jsonl":
            drv_src = FrameSource(dp, "driver")
    side = find_sidecar(generated)
    if side is not None and (side.get("output") or {}).get("side_by_side"):
        raise UserError(f"{generated}: a --side-by-side panel video (per its sidecar); score "
                        "the plain output of `v2v synthesize` instead")
    return _Sources(gen, real_src, dp, drv_src, side, None, gen.count)


def _align_to_synthesis(src: _Sources, rep: EvaluationReport) -> None:
    """With a synthesis sidecar: frame the real / driver frames as the synthesizer framed its
    output (the sidecar's view; recomputed from the driver for old sidecars, with a warning).
    Crop framing: cropped by the recorded crop box; full framing: already in the driver's
    framing (only resized)."""
    side = src.sidecar
    if side is None:
        return
    frames = size = None
    if src.driver is not None:
        try:
            src.driver_keypoints = driver_frames(src.driver, None)
            frames, size = src.driver_keypoints
        except MetricUnavailable:
            src.driver_keypoints = None
    src.view, notes = resolve_view(side, frames, size)
    rep.notes += notes
    view = src.view
    if view is not None and view.framing == "crop":
        for fs in (src.real, src.driver_frames):
            if fs is not None and tuple(fs.size) == tuple(view.driver_size):
                fs.view = view.crop
                rep.notes.append(f"{fs.role} frames cropped like the driver in synthesis "
                                 "(sidecar view)")
    elif view is not None:
        rep.notes.append("full framing: the real frames are in the driver's framing (resized "
                         "only)")
    if src.real is not None and (side.get("retarget") or {}).get("applied"):
        rep.notes.append("synthesis retargeted the driver to the examples' body: frames "
                         "rendered on the raw driver motion are not its exact target "
                         "(synthesize without retargeting for a truth comparison)")


def _pair(src: _Sources, rep: EvaluationReport) -> None:
    real, gen = src.real, src.gen
    if real is None:
        return
    rep.inputs["real"] = real.describe()
    if real.size != src.size:
        rep.notes.append(f"real frames resized from {real.size} to {src.size}")
    if real.count != gen.count:
        rep.notes.append(f"frame counts differ (generated {gen.count}, real {real.count}): "
                         f"the first {min(gen.count, real.count)} are paired")
    src.paired = min(gen.count, real.count)


def _reconstruction(src: _Sources, rep: EvaluationReport, lpips_backbone, device, say,
                    fetch: bool) -> None:
    """Rows computed from paired frames (+ true masks, LPIPS): PSNR, SSIM, L1, LPIPS, ..."""
    rows = _rows({"truth", "mask", "lpips"})
    if src.real is None:
        for m in rows:
            rep.skipped[m.name] = NEEDS_HINTS["truth"]
        return
    say("reconstruction")
    lp = None
    try:
        from v2vtool.metrics.perceptual import load_lpips

        lp = load_lpips("alex", lpips_backbone, device, fetch=fetch)
    except MetricUnavailable as exc:
        rep.skipped["lpips"] = str(exc)
    inputs = Inputs(src.gen, src.paired, truth=src.real.resized(src.size),
                    masks=src.real.masks(src.size), lpips=lp, device=device)
    _report(rep, score(inputs, rows))
    rep.metrics["reconstruction_frames"] = src.paired


def _fid(src: _Sources, rep: EvaluationReport, fid_weights, device, say, fetch: bool) -> None:
    rows = _rows({"fid"})
    if src.real is None:
        for m in rows:
            rep.skipped[m.name] = NEEDS_HINTS["fid"]
        return
    try:
        from v2vtool.metrics import fid as fidm

        model = fidm.load_fid_model(fid_weights, device, fetch=fetch)
    except MetricUnavailable as exc:
        rep.skipped["fid"] = str(exc)
        return
    say("FID")
    inputs = Inputs(src.gen, src.paired, fid=(model, src.real.resized(src.size)),
                    device=device)
    scores = score(inputs, rows)
    _report(rep, scores)
    if "fid" in scores.values:
        rep.inputs["fid_weights"] = {"path": str(model.weights_path)}
        if not model.official:
            rep.notes.append(f"FID weights {model.weights_path} are not the official file: "
                             "not comparable to published FIDs")


def _temporal(src: _Sources, rep: EvaluationReport, say) -> None:
    """Flow-warping error, flow from the real frames (else the driver's pictures)."""
    rows = _rows({"flow"})
    ref, name = (src.real, "real") if src.real is not None else (src.driver_frames, "driver")
    if ref is None:
        for m in rows:
            rep.skipped[m.name] = NEEDS_HINTS["flow"]
        return
    say("temporal consistency")
    inputs = Inputs(src.gen, src.paired, flow=ref.resized(src.size),
                    flow_frames=min(src.gen.count, ref.count))
    scores = score(inputs, rows)
    _report(rep, scores)
    if "warp_error" in scores.values:
        rep.metrics["warp_flow_source"] = name


def _pose(src: _Sources, rep: EvaluationReport, pose_estimator: str, keynet_dir,
          reference_height: int, say) -> None:
    """Pose error: a pose estimator on the generated frames vs the driving poses (+ with
    --real: AKD / MKR, the same estimator on the generated vs the real frames)."""
    rows = [m for m in _rows({"poses", "truth"}) if "poses" in m.needs]
    if src.driver is None:
        for m in rows:
            rep.skipped[m.name] = NEEDS_HINTS["poses"]
        return
    try:
        poses = _driving_poses(src, rep, pose_estimator, keynet_dir, reference_height, say)
    except MetricUnavailable as exc:
        rep.skipped["pose_error"] = str(exc)
        return
    truth = src.real.resized(src.size) if src.real is not None else None
    _report(rep, score(Inputs(src.gen, src.gen.count, truth=truth, poses=poses), rows))
    rep.metrics["pose_estimator"] = poses.estimator


def _driving_poses(src: _Sources, rep: EvaluationReport, pose_estimator: str, keynet_dir,
                   reference_height: int, say) -> PoseInputs:
    """The pose estimator and the driving poses in the generated frame's pixels."""
    from v2vtool.metrics.estimators import CachedEstimator, get_pose_estimator

    size, driver = src.size, src.driver
    name = pose_estimator
    if name == "auto":  # procedural benchmark clips -> keynet; real footage -> extract
        synth = is_clip_dir(driver) and Clip(driver).meta.get("extractor") == "v2v-synth"
        name = "keynet" if synth else "extract"
        rep.notes.append(f"pose estimator: {name} (" + ("driver is a procedural "
                         "benchmark clip" if synth else "real footage") + ")")
    # each distinct frame estimated once: pose error and AKD both read the generated frames
    est = CachedEstimator(get_pose_estimator(name, keynet_dir))
    say("pose error")
    frames, dsize = src.driver_keypoints or driver_frames(
        driver, lambda: get_pose_estimator("extract"))
    view = src.view
    if src.sidecar is not None and view is None:  # an old sidecar, driver poses just estimated
        view, side_notes = resolve_view(src.sidecar, frames, dsize)
        rep.notes += side_notes
    if view is not None:
        drv, side_notes = synthesis_driving_poses(src.sidecar, view, frames)
        rep.notes += side_notes
        out_size = view.output_size
        if tuple(out_size) != tuple(size):
            s = np.array([size[0] / out_size[0], size[1] / out_size[1], 1], np.float32)
            drv = [None if d is None else d * s for d in drv]
    else:
        dsize = dsize or size
        sx, sy = size[0] / dsize[0], size[1] / dsize[1]
        rep.notes.append(f"no synthesis sidecar: driving keypoints scaled from {dsize} "
                         f"to {size} (assumes no crop / retargeting)")
        drv = [None if main_person(f) is None else
               np.asarray(main_person(f).pose, np.float32) * np.array([sx, sy, 1], np.float32)
               for f in frames]
    if len(drv) != src.gen.count:
        rep.notes.append(f"driver has {len(drv)} pose frames, generated {src.gen.count}: "
                         f"the first {min(len(drv), src.gen.count)} are paired")
    return PoseInputs(drv, lambda frames: (est(g) for g in frames), est.joints,
                      frame_height=size[1], reference_height=reference_height,
                      estimator=est.name)
