"""`v2v evaluate` as a library function: score a generated video with whatever its inputs allow.

    report = evaluate_video("out.mp4", real="truth_clip/", driver="driver_clip/")
    report.metrics   # {"psnr": ..., "ssim": ..., "warp_error": ..., "pose_error": ..., ...}
    report.skipped   # {"fid": "FID unavailable: Inception weights file ... not found ...", ...}

Inputs are videos, PNG folders or clip directories; everything is streamed (frames are never
all held in memory; FID keeps one 2048-d vector per frame). When sizes differ, the real /
driver frames are resized to the generated size, and driver keypoints scaled with them.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from v2vtool import __version__
from v2vtool.errors import UserError
from v2vtool.io.clipdir import Clip, is_clip_dir
from v2vtool.io.keypoints import main_person, read_jsonl, read_openpose_dir
from v2vtool.io.hashing import sha256_file
from v2vtool.metrics.common import MetricUnavailable
from v2vtool.metrics.pose import REFERENCE_HEIGHT, pose_error
from v2vtool.metrics.reconstruction import l1, psnr, ssim
from v2vtool.metrics.sidecar import find_sidecar, synthesis_driving_poses, synthesis_view
from v2vtool.metrics.temporal import warp_error

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


def hash_path(path: str | os.PathLike) -> str:
    """sha256 of a file, or of a folder's (relative name, file sha256) list."""
    p = Path(path)
    if p.is_file():
        return sha256_file(p)
    h = hashlib.sha256()
    for f in sorted(q for q in p.rglob("*") if q.is_file()):
        h.update(str(f.relative_to(p)).encode() + b"\0" + sha256_file(f).encode())
    return h.hexdigest()


class FrameSource:
    """Re-iterable frames of a video / PNG folder / clip dir (each iteration streams anew)."""

    def __init__(self, path: str | os.PathLike, role: str):
        self.path = Path(path)
        self.role = role
        if not self.path.exists():
            raise UserError(f"{self.path}: --{role}: no such file or directory")
        self.clip = Clip(self.path) if is_clip_dir(self.path) else None
        if self.clip is not None:
            self.count, self.size = len(self.clip), self.clip.size
        else:
            from v2vtool.io.video import open_video

            with open_video(self.path) as r:
                self.count, self.size = r.frame_count, tuple(r.size)

    def __iter__(self) -> Iterator[np.ndarray]:
        if self.clip is not None:
            for i in range(len(self.clip)):
                yield self.clip.frame(i)
            return
        from v2vtool.io.video import open_video

        with open_video(self.path) as r:
            yield from r

    transform: Callable[[np.ndarray], np.ndarray] | None = None  # e.g. the synthesizer's crop

    def resized(self, size: tuple[int, int]) -> Iterator[np.ndarray]:
        for f in self:
            if self.transform is not None:
                f = self.transform(f)
            if (f.shape[1], f.shape[0]) != tuple(size):
                f = cv2.resize(f, tuple(size), interpolation=cv2.INTER_AREA)
            yield f

    def describe(self) -> dict:
        return {"path": str(self.path), "sha256": hash_path(self.path), "frames": self.count,
                "size": list(self.size)}


def _take(it, n):
    for i, x in enumerate(it):
        if i >= n:
            return
        yield x


def driver_frames(path: Path, estimator_factory: Callable | None
                  ) -> tuple[list, tuple[int, int] | None]:
    """The driving keypoint Frames and the pixel frame (w, h) they live in (None: unknown).

    Clip dir -> its keypoints.jsonl; .jsonl -> read; folder of OpenPose *.json -> read;
    a video -> the extract estimator (`estimator_factory()`, BODY_25 only)."""
    from v2vtool.io.keypoints import Person

    if is_clip_dir(path):
        clip = Clip(path)
        if not clip.has_keypoints:
            raise MetricUnavailable(f"pose error skipped: {path} has no keypoints.jsonl")
        return clip.keypoints, clip.size
    if path.suffix == ".jsonl":
        return read_jsonl(path), None
    if path.is_dir() and any(path.glob("*.json")):
        return read_openpose_dir(path), None
    if estimator_factory is None:
        raise MetricUnavailable("pose error skipped: driver is a video and no pose estimator")
    est = estimator_factory()
    src = FrameSource(path, "driver")
    return [[] if p is None else [Person(pose=p)] for p in (est(f) for f in src)], src.size


def evaluate_video(generated: str | os.PathLike, real: str | os.PathLike | None = None,
                   driver: str | os.PathLike | None = None,
                   fid_weights: str | os.PathLike | None = None,
                   lpips_backbone: str | os.PathLike | None = None,
                   pose_estimator: str = "auto", keynet_dir: str | os.PathLike | None = None,
                   reference_height: int = REFERENCE_HEIGHT, device: str = "cpu",
                   progress: Callable[[str], None] | None = None) -> EvaluationReport:
    """Compute every metric the inputs allow; list the others in `skipped` with the reason."""
    say = progress or (lambda s: None)
    rep = EvaluationReport(versions=versions())
    gen = FrameSource(generated, "generated")
    size = gen.size
    rep.inputs["generated"] = gen.describe()
    real_src = FrameSource(real, "real") if real is not None else None
    drv_src = None
    if driver is not None:
        dp = Path(driver)
        if not dp.exists():
            raise UserError(f"{dp}: --driver: no such file or directory")
        rep.inputs["driver"] = {"path": str(dp), "sha256": hash_path(dp)}
        if is_clip_dir(dp) or dp.is_file() and dp.suffix != ".jsonl":
            drv_src = FrameSource(dp, "driver")
    side = find_sidecar(generated)
    if side is not None and (side.get("output") or {}).get("side_by_side"):
        raise UserError(f"{generated}: a --side-by-side panel video (per its sidecar); score "
                        "the plain output of `v2v synthesize` instead")
    drv_kp = None  # (frames, size) of the driver's keypoints, read once
    if side is not None and driver is not None:
        try:
            drv_kp = driver_frames(Path(driver), None)
            if drv_kp[1] is not None:
                fit = synthesis_view(side, drv_kp[0], drv_kp[1])[0]
                for src in (real_src, drv_src):
                    if src is not None and tuple(src.size) == tuple(drv_kp[1]):
                        src.transform = fit.image
                        rep.notes.append(f"{src.role} frames cropped like the driver in "
                                         "synthesis (sidecar)")
        except MetricUnavailable:
            drv_kp = None
        if real_src is not None and (side.get("retarget") or {}).get("applied"):
            rep.notes.append("synthesis retargeted the driver to the examples' body: frames "
                             "rendered on the raw driver motion are not its exact target "
                             "(synthesize without retargeting for a truth comparison)")
    n = gen.count
    if real_src is not None:
        rep.inputs["real"] = real_src.describe()
        if real_src.size != size:
            rep.notes.append(f"real frames resized from {real_src.size} to {size}")
        if real_src.count != gen.count:
            rep.notes.append(f"frame counts differ (generated {gen.count}, real "
                             f"{real_src.count}): the first {min(gen.count, real_src.count)} "
                             "are paired")
        n = min(n, real_src.count)

    # reconstruction (+ LPIPS)
    if real_src is None:
        for m in ("psnr", "ssim", "l1", "lpips"):
            rep.skipped[m] = "needs --real (ground-truth frames)"
    else:
        say("reconstruction")
        lp = None
        try:
            from v2vtool.metrics.perceptual import load_lpips, lpips_distance

            lp = load_lpips("alex", lpips_backbone, device)
        except MetricUnavailable as exc:
            rep.skipped["lpips"] = str(exc)
        acc = {"psnr": [], "ssim": [], "l1": [], "lpips": []}
        for g, r in _take(zip(gen, real_src.resized(size)), n):
            acc["psnr"].append(psnr(g, r))
            acc["ssim"].append(ssim(g, r))
            acc["l1"].append(l1(g, r))
            if lp is not None:
                acc["lpips"].append(lpips_distance(lp, g, r, device))
        for k, v in acc.items():
            if v:
                rep.metrics[k] = float(np.mean(v))
        rep.metrics["reconstruction_frames"] = n

    # FID
    if real_src is None:
        rep.skipped["fid"] = "needs --real (a set of real frames)"
    else:
        try:
            from v2vtool.metrics import fid as fidm

            model = fidm.load_fid_model(fid_weights, device)
            say("FID")
            rep.metrics["fid"] = fidm.fid_from_activations(
                fidm.inception_activations(model, gen, device=device),
                fidm.inception_activations(model, real_src.resized(size), device=device))
            rep.metrics["fid_official_weights"] = model.official
            rep.inputs["fid_weights"] = {"path": str(model.weights_path)}
            if not model.official:
                rep.notes.append(f"FID weights {model.weights_path} are not the official file: "
                                 "not comparable to published FIDs")
        except MetricUnavailable as exc:
            rep.skipped["fid"] = str(exc)
        except ValueError as exc:
            rep.skipped["fid"] = f"FID skipped: {exc}"

    # temporal consistency
    ref_src, ref_name = (real_src, "real") if real_src is not None else (drv_src, "driver")
    if ref_src is None:
        rep.skipped["warp_error"] = "needs --real or a --driver with frames (flow source)"
    else:
        say("temporal consistency")
        m = min(gen.count, ref_src.count)
        try:
            res = warp_error(_take(gen, m), _take(ref_src.resized(size), m))
            rep.metrics.update(res.to_dict())
            rep.metrics["warp_flow_source"] = ref_name
        except ValueError as exc:
            rep.skipped["warp_error"] = f"warp error skipped: {exc}"

    # pose error
    if driver is None:
        rep.skipped["pose_error"] = "needs --driver (the driving poses)"
    else:
        try:
            from v2vtool.metrics.estimators import get_pose_estimator

            name = pose_estimator
            if name == "auto":  # procedural benchmark clips -> keynet; real footage -> extract
                dp = Path(driver)
                synth = is_clip_dir(dp) and Clip(dp).meta.get("extractor") == "v2v-synth"
                name = "keynet" if synth else "extract"
                rep.notes.append(f"pose estimator: {name} (" + ("driver is a procedural "
                                 "benchmark clip" if synth else "real footage") + ")")
            est = get_pose_estimator(name, keynet_dir)
            say("pose error")
            frames, dsize = drv_kp or driver_frames(Path(driver),
                                                    lambda: get_pose_estimator("extract"))
            dsize = dsize or size
            if side is not None:
                drv, out_size, side_notes = synthesis_driving_poses(side, frames, dsize)
                rep.notes += side_notes
                if tuple(out_size) != tuple(size):
                    s = np.array([size[0] / out_size[0], size[1] / out_size[1], 1], np.float32)
                    drv = [None if d is None else d * s for d in drv]
            else:
                sx, sy = size[0] / dsize[0], size[1] / dsize[1]
                rep.notes.append(f"no synthesis sidecar: driving keypoints scaled from {dsize} "
                                 f"to {size} (assumes no crop / retargeting)")
                drv = [None if main_person(f) is None else
                       np.asarray(main_person(f).pose, np.float32) * np.array([sx, sy, 1],
                                                                              np.float32)
                       for f in frames]
            m = min(len(drv), gen.count)
            if len(drv) != gen.count:
                rep.notes.append(f"driver has {len(drv)} pose frames, generated {gen.count}: "
                                 f"the first {m} are paired")
            res = pose_error((est(g) for g in _take(gen, m)), drv[:m], frame_height=size[1],
                             reference_height=reference_height, joints=est.joints)
            rep.metrics.update(res.to_dict())
            rep.metrics["pose_estimator"] = est.name
        except MetricUnavailable as exc:
            rep.skipped["pose_error"] = str(exc)
    return rep
