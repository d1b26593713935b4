"""The real-footage protocol (`v2v evaluate --benchmark CLIPS`): clip dirs made by `v2v extract`
from real videos (a clip dir, or a folder of them; symlinks allowed) score a pose checkpoint.

Self-reenactment (FOMM's protocol), per clip, deterministically:
  1. window: up to `max_frames` frames from the clip's first detected frame on, every
     `stride` = clamp(frame_count // max_frames, 1, MAX_STRIDE) frames (slow clips still move);
  2. examples: K frames spread through the whole clip, nested (K=1 is the first detected frame,
     K=2 adds the detected frame nearest the middle, K=4 the quarters, ...: `spread_examples`);
     window frames that are examples of the largest K are not scored, for every K (counted);
  3. driver: the clip's own extracted pose over the window (no retargeting: the truth is the
     clip's own body); examples and driver are frames of one camera, so the synthesizer's
     static-camera path applies (`Synthesizer.background`), as in `v2v synthesize`;
  4. truth: the clip's frames and person masks seen through exactly the view the synthesizer
     used (`Synthesizer.view`, set by its run; never recomputed here);
  5. rows: the model per K, and the baselines per K (`benchmark.baseline_frames`: copy,
     limb-warp, prior-warp, with the synthesizer's background alignment), scored by the metric
     table's rows (metrics/table.py): L1, PSNR, SSIM, LPIPS (when its weights are here), person
     PSNR, ghost error, sharpness, ring error, AKD / MKR and pose error (mediapipe, static, on
     the output and on the truth; px at the view's height), warp error.
Cross-identity, per clip: its K=1 example drives with the NEXT clip in sorted order (another
person), retargeted as `v2v synthesize` does by default. No truth: pose error of the output
against the driver's pose as the synthesizer drew it (the driver's keypoints through the view,
retargeted; checked against the rendered driver map), and the identity score (metrics/
appearance.py) inside the driven body (the prior's body occupancy of that pose, eroded), for
the model, the baselines and two references: "same-person" (the example clip's own person in its
scored frames: keeping the identity perfectly) and "driver-person" (the driver's own person: a
complete identity swap).
Means over clips (mean of per-clip values; sharpness is a ratio of sums within a clip).
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from v2vtool.benchmark import (_pose, aggregate, baseline_frames, example_masks,
                               score_sequence)
from v2vtool.errors import UserError
from v2vtool.io.clipdir import Clip, is_clip_dir
from v2vtool.metrics import table
from v2vtool.metrics.appearance import (BINS, AppearanceInputs, erode, erode_px,
                                        rgb_histogram)
from v2vtool.metrics.common import MetricUnavailable
from v2vtool.metrics.ring import examples_region, ring_margin
from v2vtool.metrics.table import Column, Metric

log = logging.getLogger(__name__)
FORMAT = "v2v-benchmark-real/1"
MAX_STRIDE = 4
DEFAULT_MAX_FRAMES = 48
REFERENCES = ("same-person", "driver-person")  # cross-identity reading aids, not methods


def self_rows() -> tuple[Metric, ...]:
    """What self-reenactment reports: every per-sequence row but the identity score."""
    return tuple(m for m in table.METRICS if not m.long and m.name != "identity")


def cross_rows() -> tuple[Metric, ...]:
    return table.rows("pose_error", "identity")


def _columns(rows: tuple[Metric, ...]) -> list[Column]:
    return [c for m in rows for c in m.columns]


# ---- the plan ---------------------------------------------------------------------------------

def find_clips(folder: str | os.PathLike) -> list[Path]:
    """A clip dir itself, or the clip dirs directly inside a folder (sorted by name)."""
    folder = Path(folder)
    if not folder.exists():
        raise UserError(f"{folder}: --benchmark: no such file or directory")
    if is_clip_dir(folder):
        return [folder]
    if not folder.is_dir():
        raise UserError(f"{folder}: --benchmark: expected a `v2v data synth` set, a clip dir "
                        "or a folder of clip dirs")
    clips = sorted(p for p in folder.iterdir() if is_clip_dir(p))
    if not clips:
        raise UserError(f"{folder}: --benchmark: no clip dirs (made by `v2v extract`) in this "
                        "folder, and no manifest.json of a `v2v data synth` set")
    return clips


def frame_stride(frame_count: int, max_frames: int) -> int:
    return int(np.clip(frame_count // max_frames, 1, MAX_STRIDE))


def spread_examples(detected: list[int], k: int) -> list[int]:
    """k frames of `detected` (sorted indices), nested for growing k: the first, then the ones
    nearest 1/2, 1/4, 3/4, 1/8, ... of the span (van der Corput order); fewer if too few."""
    if not detected:
        return []
    first, last = detected[0], detected[-1]
    out: list[int] = []
    n = 0
    while len(out) < min(k, len(detected)):
        frac, b, i = 0.0, 0.5, n  # n-th van der Corput number (base 2)
        while i:
            frac += b * (i & 1)
            i, b = i >> 1, b / 2
        n += 1
        target = first + frac * (last - first)
        free = [d for d in detected if d not in out]
        out.append(min(free, key=lambda d: (abs(d - target), d)))
    return out


@dataclass
class ClipPlan:
    name: str
    clip: Clip
    window: list[int]  # clip frame indices driven
    stride: int
    examples: list[int]  # the largest K's examples (nested: examples[:k])
    scored: list[int]  # positions in `window` that are scored (not examples)

    def describe(self) -> dict:
        inside = len(self.window) - len(self.scored)
        return {"clip": self.name, "path": str(self.clip.path), "frame_count": len(self.clip),
                "size": list(self.clip.size), "fps": self.clip.fps, "stride": self.stride,
                "window": [self.window[0], self.window[-1]], "window_frames": len(self.window),
                "example_frames": self.examples, "examples_in_window": inside,
                "scored_frames": len(self.scored)}


def plan_clip(path: Path, ks: list[int], max_frames: int, kind: str) -> ClipPlan | str:
    """The clip's protocol, or why it is skipped (a note)."""
    clip = Clip(path)
    if clip.kind != kind:
        raise UserError(f"{path}: a {clip.kind!r} clip; the checkpoint is a {kind!r} model")
    if not clip.has_keypoints:
        raise UserError(f"{path}: no keypoints.jsonl (make it with `v2v extract --kind {kind}`)")
    from v2vtool.semantics.kinds import get_kind

    spec = get_kind(kind)
    detected = [i for i, f in enumerate(clip.keypoints) if spec.has_detection(f)]
    if not detected:
        return f"no {spec.subject} detected in any of its {len(clip)} frames"
    stride = frame_stride(len(clip), max_frames)
    window = list(range(detected[0], len(clip), stride))[:max_frames]
    examples = spread_examples(detected, max(ks))
    if len(examples) < min(ks):
        return f"only {len(examples)} frames with a {spec.subject}; K={min(ks)} needs more"
    scored = [j for j, i in enumerate(window) if i not in examples]
    if not scored:
        return "every frame of its window is an example"
    return ClipPlan(path.name, clip, window, stride, examples, scored)


# ---- one clip ---------------------------------------------------------------------------------

@dataclass
class _Context:
    generator: torch.nn.Module
    config: object
    estimator: object  # CachedEstimator or None
    lpips: object
    seed: int
    fast: dict
    say: Callable[[str], None]
    strips: bool
    notes: list = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        return self.config.generator.size

    def synthesizer(self, images, keypoints, masks):
        from v2vtool.synthesis.stream import Synthesizer

        torch.manual_seed(self.seed)
        return Synthesizer(self.generator, self.config, images, keypoints, seed=self.seed,
                           example_masks=masks, **self.fast)


@dataclass
class _Truth:
    """A clip's window through the synthesizer's view."""

    view: object  # data.augment.View
    frames: list  # (H, W, 3) uint8 per window frame
    masks: list | None  # (H, W) 0/255 per window frame; None: the clip has no masks
    driven: list  # the keypoint Frames the synthesizer drove with (gaps held), source px
    held: list  # per window frame: no detection there, the last good pose was held


def _truth(plan: ClipPlan, view) -> _Truth:
    from v2vtool.synthesis.stream import hold_gaps

    clip = plan.clip
    driven, held = zip(*hold_gaps([clip.keypoints[i] for i in plan.window], clip.kind))
    masks = [clip.mask(i) for i in plan.window]
    return _Truth(view, [view.image(clip.frame(i)) for i in plan.window],
                  None if any(m is None for m in masks) else [view.label(m) for m in masks],
                  list(driven), list(held))


def frame_box(view, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The part of a view that shows the source frame of (w, h) `size`, as a box
    (x0, y0, x1, y1) in view px; None when the view lies inside the frame. Past the frame's edge
    the view holds an extension (replicated or inpainted), not footage: there is no truth
    there, so the protocol scores only this box."""
    inside = view.label(np.full((size[1], size[0]), 255, np.uint8)) > 0
    if inside.all():
        return None
    ys, xs = np.nonzero(inside)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _score(ctx: _Context, frames: list, truth: _Truth, plan: ClipPlan, region) -> dict:
    sel = plan.scored
    driving = [_pose(truth.view.keypoints(truth.driven[j])) for j in sel]
    out, real = [frames[j] for j in sel], [truth.frames[j] for j in sel]
    masks = None if truth.masks is None else [truth.masks[j] for j in sel]
    box = frame_box(truth.view, plan.clip.size)
    if box is not None:  # score the footage only (frame_box)
        x0, y0, x1, y1 = box
        cut = lambda imgs: None if imgs is None else [a[y0:y1, x0:x1] for a in imgs]  # noqa: E731
        out, real, masks = cut(out), cut(real), cut(masks)
        region = None if region is None else region[y0:y1, x0:x1]
        driving = [d - np.array([x0, y0, 0], np.float32) * (d[:, 2:] > 0) for d in driving]
    return score_sequence(out, real, driving, ctx.estimator, ctx.lpips, masks=masks,
                          rows=self_rows(), reference_height=ctx.size[1], examples=region)


def _self_reenactment(ctx: _Context, plan: ClipPlan, ks: list[int]) -> tuple[dict, _Truth, dict]:
    """{(method, K): scores}, the truth, and what the strip shows."""
    clip = plan.clip
    drive = [clip.keypoints[i] for i in plan.window]
    truth, out, strip = None, {}, {"rows": {}}
    for k in ks:
        idx = plan.examples[:k]
        if len(idx) < k:
            ctx.notes.append(f"{plan.name}: K={k} skipped: only {len(idx)} frames with a person")
            continue
        ctx.say(f"{plan.name} K={k}")
        synth = ctx.synthesizer([clip.frame(i) for i in idx], [clip.keypoints[i] for i in idx],
                                [clip.mask(i) for i in idx])
        run = list(synth.run(drive, driver_size=clip.size, retarget=False))
        if truth is None:
            truth = _truth(plan, synth.view)
        elif synth.view != truth.view:  # the view is the driver's alone
            raise RuntimeError(f"{plan.name}: the synthesizer's view changed between runs")
        masks = example_masks(synth, [clip.mask(i) for i in idx])
        region = None
        if truth.masks is not None and synth.background is not None:
            region = examples_region(masks, synth.background, ctx.size)
        elif k == ks[0]:
            ctx.notes.append(f"{plan.name}: no ring error: " + (
                "the clip has no person masks" if truth.masks is None else
                "the synthesizer did not align the background (no keypoint prior)"))
        methods = {"model": [f.image for f in run]}
        driving = [_pose(truth.view.keypoints(f)) for f in truth.driven]
        methods.update(baseline_frames(synth, masks, driving))
        for name, frames in methods.items():
            out[(name, k)] = _score(ctx, frames, truth, plan, region)
        if ctx.strips:
            strip["examples"] = [(f"frame {i}", im) for i, im in zip(idx, synth.examples.images)]
            strip["driver"] = [f.semantic for f in run]
            strip["rows"][("model", k)] = methods["model"]
            strip["rows"][("prior-warp", k)] = methods["prior-warp"]
        strip["background"] = "camera" if synth.background is not None else None
    strip["truth"] = truth.frames if truth is not None else []
    return out, truth, strip


# ---- cross-identity ---------------------------------------------------------------------------

def _drawn_driver(synth, truth: _Truth, run: list) -> tuple[list[np.ndarray], bool]:
    """The driving poses ((25, 3) model px) as the synthesizer drew them: the driver's held
    keypoints through its view, retargeted by the kind's fit on the same reference frames
    (`synthesis.stream.REFERENCE_FRAMES`). Also whether they render to exactly the maps the
    synthesizer fed the model (the check that this is the same mapping)."""
    from v2vtool.synthesis.stream import REFERENCE_FRAMES

    view, spec = synth.view, synth.spec
    frames = [view.keypoints(f) for f in truth.driven]
    if synth.retargeted:
        good = [f for f, h in zip(frames[:REFERENCE_FRAMES], truth.held) if not h]
        mapper = spec.fit_retarget(synth.examples.keypoints, good)
        frames = [[mapper(p) for p in f] for f in frames]
    same = all(np.array_equal(spec.render(f, synth.cfg.size), r.semantic)
               for f, r in zip(frames, run))
    return [_pose(f) for f in frames], same


def body_regions(poses: list[np.ndarray], size: tuple[int, int]) -> list[np.ndarray]:
    """Per (25, 3) pose in model px, where that body stands: the prior's body occupancy
    (semantics/prior.py) > 0.5, eroded by `erode_px` (the identity score's regions)."""
    from v2vtool.semantics.prior import body_occupancy

    w, h = size
    occ = body_occupancy(torch.from_numpy(np.stack(poses)).float(), h, w)[:, 0].numpy()
    return [erode(o > 0.5, erode_px(size)) for o in occ]


def _cross(ctx: _Context, ex: ClipPlan, ex_truth: _Truth, drv: ClipPlan, drv_truth: _Truth
           ) -> tuple[dict, dict, dict]:
    """{(method, 1): scores} of one example clip driven by another clip, info, strip."""
    ctx.say(f"{ex.name} driven by {drv.name}")
    i0 = ex.examples[0]
    clip = ex.clip
    synth = ctx.synthesizer([clip.frame(i0)], [clip.keypoints[i0]], [clip.mask(i0)])
    run = list(synth.run([drv.clip.keypoints[i] for i in drv.window], driver_size=drv.clip.size,
                         retarget=True))
    if synth.view != drv_truth.view:
        raise RuntimeError(f"{drv.name}: the synthesizer's view differs from its own run's")
    driving, same = _drawn_driver(synth, drv_truth, run)
    if synth.background is not None:
        ctx.notes.append(f"{ex.name} <- {drv.name}: same frame size, so the synthesizer took "
                         "them for one camera (as `v2v synthesize` would)")
    if not same:
        ctx.notes.append(f"{ex.name} <- {drv.name}: the recomputed driving poses do not render "
                         "to the synthesizer's driver maps; pose error and identity regions "
                         "may be off")
    h = ctx.size[1]
    ex_mask = clip.mask(i0)
    appearance = None
    if ex_mask is None:
        ctx.notes.append(f"{ex.name}: no identity score: the clip has no person masks")
    else:
        ref = rgb_histogram(synth.examples.images[0],
                            erode(example_masks(synth, [ex_mask])[0], erode_px(ctx.size)))
        appearance = AppearanceInputs(ref, body_regions(driving, ctx.size))
    methods = {"model": [f.image for f in run]}
    methods.update(baseline_frames(synth, example_masks(synth, [ex_mask]), driving))
    out = {}
    for name, frames in methods.items():
        out[(name, 1)] = score_sequence(frames, None, driving, ctx.estimator, None,
                                        rows=cross_rows(), reference_height=h,
                                        appearance=appearance)
    if appearance is not None:  # the two references (identity only), regions drawn alike
        for name, plan, tr in (("same-person", ex, ex_truth), ("driver-person", drv, drv_truth)):
            sel = plan.scored if plan is ex else range(len(plan.window))
            poses = [_pose(tr.view.keypoints(tr.driven[j])) for j in sel]
            refs = AppearanceInputs(appearance.reference, body_regions(poses, ctx.size))
            out[(name, 0)] = score_sequence([tr.frames[j] for j in sel], None, None, None,
                                            rows=cross_rows(), appearance=refs)
    info = {"example_clip": ex.name, "example_frame": i0, "driver_clip": drv.name,
            "frames": len(drv.window), "retarget_applied": synth.retargeted,
            "driving_poses_match_synthesis": same,
            "background": "camera" if synth.background is not None else None}
    strip = {"examples": [(f"{ex.name} {i0}", synth.examples.images[0])],
             "driver": [f.semantic for f in run], "truth": drv_truth.frames,
             "driver_name": drv.name, "window": drv.window,
             "rows": {("model", 1): methods["model"], ("prior-warp", 1): methods["prior-warp"]}}
    return out, info, strip


# ---- the run ----------------------------------------------------------------------------------

def _estimator(skipped: dict):
    from v2vtool.metrics.estimators import CachedEstimator, ExtractPoseEstimator

    try:
        return CachedEstimator(ExtractPoseEstimator(static=True, hands_face=False, mask=False))
    except MetricUnavailable as exc:
        for name in ("akd", "pose_error"):
            skipped[name] = str(exc)
        return None


def _lpips(skipped: dict):
    try:
        from v2vtool.metrics.perceptual import load_lpips

        return load_lpips("alex")
    except MetricUnavailable as exc:
        skipped["lpips"] = str(exc)
        return None


def _clip_rows(scores: dict) -> list[dict]:
    return [{"method": m, "k": k, **v} for (m, k), v in scores.items()]


def _means(items: list[dict], rows: tuple[Metric, ...]) -> list[dict]:
    out = aggregate(items, _columns(rows))
    for r in out:
        r["clips"] = r.pop("identities")
    return out


def evaluate_generator_real(generator: torch.nn.Module, config, clips: list[str | os.PathLike],
                            ks: list[int], max_frames: int = DEFAULT_MAX_FRAMES, seed: int = 0,
                            strips_dir: str | os.PathLike | None = None, cross: bool = True,
                            progress: Callable[[str], None] | None = None, amp: str = "auto",
                            compile: bool = False) -> dict:
    """Run the protocol (module docstring) with an in-memory generator on clip dirs; returns
    the result dict (`FORMAT`). strips_dir: an existing folder to write one PNG per clip into.
    amp / compile: the synthesis fast path ("auto" = as `v2v synthesize` runs by default)."""
    from v2vtool.models.fastpath import fast_path

    cfg = config.generator
    if cfg.kind != "pose":
        raise UserError(f"benchmark: the checkpoint is a {cfg.kind!r} model; the real-footage "
                        "protocol drives pose models")
    if not clips:
        raise UserError("benchmark: no clips")
    t0 = time.perf_counter()
    skipped: dict = {}
    ctx = _Context(generator, config, _estimator(skipped), _lpips(skipped), seed,
                   {"amp": amp, "compile": compile}, progress or (lambda s: None),
                   strips_dir is not None)
    plans, skipped_clips = [], {}
    for path in clips:
        p = plan_clip(Path(path), ks, max_frames, cfg.kind)
        if isinstance(p, str):
            skipped_clips[Path(path).name] = p
            ctx.notes.append(f"{Path(path).name}: skipped: {p}")
        else:
            plans.append(p)
    if not plans:
        raise UserError(f"benchmark: no clip to score ({'; '.join(ctx.notes)})")
    per_clip, truths, strips = [], {}, {}
    for plan in plans:
        scores, truths[plan.name], strips[plan.name] = _self_reenactment(ctx, plan, ks)
        per_clip.append({**plan.describe(), "background": strips[plan.name].pop("background"),
                         "view": _view(truths[plan.name].view), "scores": _clip_rows(scores)})
    res = {"format": FORMAT, "ks": ks, "size": list(cfg.size),
           "protocol": _protocol(ks, max_frames, seed, ctx, cross),
           "rows": _means(per_clip, self_rows()), "per_clip": per_clip}
    cross_strips: dict = {}
    if cross and len(plans) > 1:
        pairs = []
        for i, ex in enumerate(plans):
            drv = plans[(i + 1) % len(plans)]
            scores, info, cross_strips[ex.name] = _cross(ctx, ex, truths[ex.name], drv,
                                                         truths[drv.name])
            pairs.append({**info, "scores": _clip_rows(scores)})
        res["cross"] = {"rows": _means(pairs, cross_rows()), "per_pair": pairs}
    elif cross:
        ctx.notes.append("cross-identity skipped: needs at least two clips")
    if strips_dir is not None:
        from v2vtool.benchmark_strips import write_strips

        write_strips(Path(strips_dir), plans, strips, cross_strips, ctx.size)
    res.update(skipped=skipped, skipped_clips=skipped_clips, notes=ctx.notes,
               pose_estimator_frames=None if ctx.estimator is None else ctx.estimator.calls,
               fast_path=fast_path(next(generator.parameters()).device, amp, "auto", compile,
                                   cfg.height * cfg.width).describe(),
               seconds=round(time.perf_counter() - t0, 2))
    return res


def _view(view) -> dict:
    return {"x0": view.x0, "y0": view.y0, "width": view.cw, "height": view.ch,
            "out": [view.out_w, view.out_h]}


def _protocol(ks: list[int], max_frames: int, seed: int, ctx: _Context, cross: bool) -> dict:
    w, h = ctx.size
    return {
        "task": "self-reenactment: examples and driver from the same clip, truth = the clip",
        "ks": ks, "max_frames": max_frames, "seed": seed,
        "stride": f"clamp(frame_count // max_frames, 1, {MAX_STRIDE})",
        "window": "from the first detected frame, every stride-th frame, up to max_frames",
        "examples": "nested, spread through the clip: first detected frame, then the detected "
                    "frames nearest 1/2, 1/4, 3/4, ... of the span; window frames that are "
                    f"examples of K={max(ks)} are not scored for any K",
        "view": "Synthesizer.view (the driver's person-centred view), truth and masks through "
                "it", "view_height": h, "size": [w, h],
        "scored_region": "the part of the view that shows the clip's frame (frame_box): past "
                         "the frame's edge a view holds an extension, not footage",
        "pose_estimator": None if ctx.estimator is None else
        "mediapipe pose (the v2v extract body model), static image mode, body only",
        "akd_reference_height": h, "ring_margin_px": ring_margin(ctx.size),
        "sharpness": "ratio of sums over the scored frames of the squared Sobel gradient "
                     "magnitude of the luma inside the truth's person mask (output / truth)",
        "identity": {"score": "Hellinger distance of RGB histograms", "bins_per_channel": BINS,
                     "erode_px": erode_px(ctx.size),
                     "region": "the driven pose's body occupancy (semantics/prior.py) > 0.5"},
        "cross": {"pairing": "each clip's K=1 example driven by the next clip in sorted "
                             "order", "retarget": True} if cross else None,
        "means": "mean over clips of the per-clip values"}


def run_benchmark_real(folder: str | os.PathLike, checkpoint: str | os.PathLike, ks: list[int],
                       max_frames: int = DEFAULT_MAX_FRAMES, seed: int = 0,
                       strips: str | os.PathLike | None = None, device: str = "cpu",
                       console=None, amp: str = "auto", compile: bool = False) -> dict:
    """Load a checkpoint and run the protocol on a clip dir or a folder of them (the library
    function behind the CLI). strips: a folder written atomically (replaced only when it is a
    previous strips folder of v2v)."""
    from v2vtool.benchmark_real_report import machine
    from v2vtool.io.atomic import atomic_dir
    from v2vtool.io.guard import check_outputs, check_replaceable, is_marked_output, write_marker
    from v2vtool.metrics.evaluate import versions
    from v2vtool.models.checkpoint import load_generator

    clips = find_clips(folder)
    if strips is not None:
        check_outputs([("--strips", strips)], [("--benchmark", folder),
                                               ("--checkpoint", checkpoint)])
        check_replaceable(strips, is_marked_output, "a strips folder written by v2v evaluate")
    loaded = load_generator(checkpoint, device)
    status = console.status("benchmark") if console is not None else None
    say = (lambda s: status.update(f"benchmark: {s}")) if status is not None else None
    if status is not None:
        status.start()
    try:
        if strips is None:
            res = evaluate_generator_real(loaded.generator, loaded.config, clips, ks, max_frames,
                                          seed, progress=say, amp=amp, compile=compile)
        else:
            with atomic_dir(strips, overwrite=True) as tmp:  # checked above
                res = evaluate_generator_real(loaded.generator, loaded.config, clips, ks,
                                              max_frames, seed, strips_dir=tmp, progress=say,
                                              amp=amp, compile=compile)
                write_marker(tmp, "v2v-strips/1", "v2v evaluate --benchmark --strips")
            res["strips"] = str(strips)
    finally:
        if status is not None:
            status.stop()
    res.update(benchmark=str(folder), clips=[str(c) for c in clips],
               checkpoint=str(loaded.path), checkpoint_sha256=loaded.sha256, ema=loaded.ema,
               versions=versions(), machine=machine())
    return res
