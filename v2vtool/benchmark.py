"""The benchmark protocol on a `v2v data synth` set (`v2v evaluate --benchmark`).

For every held-out (test) identity, deterministically given the seed:
  1. examples: K frames of one of its clips, views spread (front, back, side, front, ...);
     the examples for K=1 are a subset of those for K=2, which are a subset of K=4;
  2. driver: the motion (keypoints) of a clip of ANOTHER identity (held-out clips first);
  3. truth: the identity rendered performing that motion (`render_identity`), exact;
  4. synthesis: the synthesis engineer's streaming `Synthesizer` (no retargeting: the truth is
     rendered on the driver's skeleton), output at the model's resolution;
  5. scores, in the model's frame (truth, its person masks and driving keypoints mapped with
     the same person-centred view the synthesizer uses): the rows of the metric table
     (metrics/table.py): PSNR / SSIM / L1 (+ LPIPS when its weights are here), person PSNR
     (inside the true mask) and ghost error (L1 outside the dilated true mask), pose error
     (benchmark keypoint net on the output vs the driving pose, at the reference height),
     flow-warping error (flow from the truth frames).
Rows: the model per K, and the baselines per K (`BASELINES`): "copy" (the example nearest in
pose, unchanged), "limb-warp" (per-limb similarity warp of that example, `metrics/limb_warp.py`)
and "prior-warp" (the generator's keypoint prior alone, no learning: all K examples warped and
chosen per pixel, `metrics/prior_warp.py`). Examples and driver are frames of one camera here,
so the synthesizer keeps the static background where that camera sees it (`Synthesizer.
background`); the two warp baselines get the same background alignment, so the rows compare how
each renders the person (copy stays the example, unchanged). Plus the
"truth" row: the truth frames themselves scored the same way (pose error = the estimator's
floor, warp error = the truth video's own).

Drift (`drift` in the result): the clips are 60 frames, so per identity a long driver of
`drift_frames` (120) frames is generated: the body of the item's driver identity dancing a
fresh procedural dance (data/synth/motion.py) drawn from the protocol seed; the truth is
rendered with `render_identity` as above. The model and the baselines (no truth row) report
PSNR per quarter of the frames and the drift (last quarter - first). `max_frames` cuts only
the regular drivers. The drift runs after the regular protocol and leave its numbers as they
were.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from v2vtool.errors import UserError
from v2vtool.io.clipdir import Clip
from v2vtool.io.keypoints import main_person
from v2vtool.metrics.common import MetricUnavailable
from v2vtool.metrics.pose import REFERENCE_HEIGHT
from v2vtool.metrics import table
from v2vtool.metrics.drift import QUARTERS
from v2vtool.metrics.table import Column, Inputs, Metric, PoseInputs, score

log = logging.getLogger(__name__)
FORMAT = "v2v-benchmark/1"
BASELINES = ("limb-warp", "prior-warp", "copy")  # untrained rows, in table order
VIEW_ORDER = ("front", "back", "side")
DRIFT_FRAMES = 120  # the long driver (the datasets' clips are 60 frames)


def sequence_rows() -> tuple[Metric, ...]:
    """The metric table's rows the protocol reports per sequence: all of them (those whose
    inputs it lacks, e.g. FID, are left out by `score`) except the long-video summaries,
    which only the long driver reports, and the real-footage protocol's rows
    (benchmark_real.py), which keep this table as it was."""
    return tuple(m for m in table.METRICS if not m.long and not m.real)


def drift_rows() -> tuple[Metric, ...]:
    """What the long drift driver reports: PSNR and the long-video summaries (per quarter)."""
    return tuple(m for m in table.METRICS if m.name == "psnr" or m.long)


def columns(rows: tuple[Metric, ...] | None = None) -> list[Column]:
    """The benchmark's columns: the rows' columns, where the warp error's flow reference is
    the truth video (named warp_error_truth in the benchmark JSON since v1)."""
    return [Column("warp_error_truth", "warp(truth)", c.better)
            if c.key == "warp_error_reference" else c
            for m in (rows if rows is not None else sequence_rows()) for c in m.columns]


OTHER_SIDE = ("psnr", "l1")  # re-scored on the frames showing the side the first example hides


def other_side_columns() -> list[Column]:
    return [Column(f"{c.key}_other_side", f"{c.label}*", c.better)
            for m in table.METRICS if m.name in OTHER_SIDE for c in m.columns]


def other_side_frames(ex_clip: Clip, example_frames: list[int], drv_clip: Clip, n: int
                      ) -> list[int]:
    """Driver frames whose view (front / back / side, from the clips' meta) is not the view of
    the first example (the K = 1 example): where a second example can help."""
    ex_views, drv_views = ex_clip.meta.get("views"), drv_clip.meta.get("views")
    if not ex_views or not drv_views:
        return []
    first = ex_views[example_frames[0]]
    return [i for i in range(min(n, len(drv_views))) if drv_views[i] != first]


def parse_k(text: str) -> list[int]:
    try:
        ks = sorted({int(x) for x in str(text).split(",") if x.strip()})
    except ValueError:
        raise UserError(f"--k {text!r}: expected comma-separated integers like 1,2,4") from None
    from v2vtool.config_check import MAX_K

    if not ks or ks[0] < 1:
        raise UserError(f"--k {text!r}: K values must be >= 1")
    if ks[-1] > MAX_K:
        raise UserError(f"--k {text!r}: K values must be <= {MAX_K} (the K limit of synthesis)")
    return ks


def pick_examples(views: list[str], n: int, rng: np.random.Generator) -> list[int]:
    """n frame indices, views spread (front, back, side, ...), nested for growing n."""
    unused = list(range(len(views)))
    out = []
    for k in range(min(n, len(views))):
        want = VIEW_ORDER[k % len(VIEW_ORDER)]
        pool = [i for i in unused if views[i] == want] or unused
        i = int(pool[rng.integers(len(pool))])
        out.append(i)
        unused.remove(i)
    return out


def plan(dataset: Path, ks: list[int], seed: int) -> list[dict]:
    """The deterministic protocol: per test identity, example clip + frames and driver clip."""
    from v2vtool.data.synth import read_manifest

    man = read_manifest(dataset)
    clips = man["clips"]
    if not man["test"]:
        raise UserError(f"{dataset}/manifest.json: no held-out (test) identities to score "
                        "(make the set with `v2v data synth --test-identities N`)")
    items = []
    for n, ident in enumerate(sorted(man["test"])):
        rng = np.random.default_rng([seed, n])
        own = sorted(c["path"] for c in clips if c["identity"] == ident)
        if not own:
            raise UserError(f"{dataset}/manifest.json: test identity {ident} has no clips")
        ex_clip = own[int(rng.integers(len(own)))]
        others = sorted(c["path"] for c in clips if c["identity"] != ident
                        and c["split"] == "test") or sorted(c["path"] for c in clips
                                                            if c["identity"] != ident)
        if not others:
            raise UserError(f"{dataset}: needs a clip of another identity to drive {ident}")
        drv_clip = others[int(rng.integers(len(others)))]
        clip = Clip(dataset / ex_clip)
        views = clip.meta.get("views") or ["front"] * len(clip)
        items.append({"identity": ident, "example_clip": ex_clip, "driver_clip": drv_clip,
                      "example_frames": pick_examples(views, max(ks), rng)})
    return items


def _pose(frame) -> np.ndarray:
    p = main_person(frame)
    return np.zeros((25, 3), np.float32) if p is None else np.asarray(p.pose, np.float32)


def _nearest(example_poses: list[np.ndarray], pose: np.ndarray) -> int:
    """Index of the example whose (centred) pose is nearest to `pose`."""
    def centred(p):
        ok = p[:, 2] > 0
        return p[:, :2] - (p[ok, :2].mean(0) if ok.any() else 0), ok

    q, qok = centred(pose)
    best, bi = None, 0
    for i, e in enumerate(example_poses):
        c, ok = centred(e)
        both = ok & qok
        d = np.linalg.norm(c[both] - q[both], axis=1).mean() if both.any() else np.inf
        if best is None or d < best:
            best, bi = d, i
    return bi


def _estimate(estimator):
    """Poses of a list of frames (one batch when the estimator batches)."""
    if hasattr(estimator, "batch"):
        return lambda frames: estimator.batch(list(frames))
    return lambda frames: [estimator(f) for f in frames]


def score_sequence(frames: list[np.ndarray], truth: list[np.ndarray] | None,
                   driving: list[np.ndarray] | None, estimator, lpips_model=None,
                   masks: list[np.ndarray] | None = None,
                   rows: tuple[Metric, ...] | None = None,
                   reference_height: int = REFERENCE_HEIGHT, **extra) -> dict:
    """Per-sequence scores of `frames` against the truth frames (+ true person masks) and the
    driving poses: the metric table's `rows`, keyed by the benchmark's `columns`. `extra`:
    further `Inputs` fields (examples, appearance); truth / driving None: rows without."""
    poses = None
    if estimator is not None and driving is not None:
        poses = PoseInputs(driving, _estimate(estimator), estimator.joints,
                           frame_height=frames[0].shape[0], reference_height=reference_height)
    inputs = Inputs(frames, len(frames), truth=truth, masks=masks, lpips=lpips_model,
                    flow=truth if truth is not None and len(frames) >= 2 else None,
                    flow_frames=len(frames), poses=poses, **extra)
    rows = rows if rows is not None else sequence_rows()
    values = score(inputs, rows).values
    if "warp_error_reference" in values:
        values["warp_error_truth"] = values["warp_error_reference"]
    return {c.key: values[c.key] for c in columns(rows) if c.key in values}


@dataclass
class _Sequence:
    """One driver's motion and what the protocol scores against, in the model's frame."""

    frames: list  # driver keypoint Frames, in pixels of `size`
    size: tuple[int, int]  # the driver's frame (w, h)
    truth: list[np.ndarray]  # the identity rendered on that motion
    masks: list[np.ndarray]  # its true person masks (0/255)
    driving: list[np.ndarray]  # (25, 3) driving poses


def _sequence(config, dataset: Path, identity: str, frames: list, src: tuple[int, int]
              ) -> _Sequence:
    from v2vtool.data.synth import render_identity
    from v2vtool.data.view import REFERENCE_FRAMES, person_view

    fit = person_view("pose", config.data, src, config.generator.size, frames[:REFERENCE_FRAMES])
    pictures = list(render_identity(dataset, identity, frames, src[0]))
    return _Sequence(frames, src, [fit.image(img) for img, _ in pictures],
                     [fit.label(mask) for _, mask in pictures],
                     [_pose(fit.keypoints(f)) for f in frames])


@dataclass
class _Scorer:
    estimator: object  # benchmark pose estimator or None
    lpips: object  # LPIPS model or None

    other: list[int] | None = None  # frames of the sequence also scored as "other side"

    def __call__(self, frames: list[np.ndarray], seq: _Sequence, rows) -> dict:
        out = score_sequence(frames, seq.truth, seq.driving, self.estimator, self.lpips,
                             masks=seq.masks, rows=rows)
        if self.other:
            part = [m for m in table.METRICS if m.name in OTHER_SIDE]
            sub = score_sequence([frames[i] for i in self.other],
                                 [seq.truth[i] for i in self.other],
                                 [seq.driving[i] for i in self.other], None, None,
                                 masks=[seq.masks[i] for i in self.other], rows=tuple(part))
            out.update({f"{k}_other_side": v for k, v in sub.items()})
        return out


def _run_methods(generator, config, ex_clip: Clip, example_frames: list[int], seq: _Sequence,
                 ks: list[int], seed: int, baselines: bool, scorer: _Scorer, rows, say,
                 fast: dict | None = None) -> dict:
    """{(method, K): scores} of the model and (baselines) copy / limb-warp / prior-warp on one
    sequence."""
    from v2vtool.synthesis.stream import Synthesizer

    out = {}
    for k in ks:
        say(f"K={k}")
        idx = example_frames[:k]
        images = [ex_clip.frame(i) for i in idx]
        kps = [ex_clip.keypoints[i] for i in idx]
        torch.manual_seed(seed)
        synth = Synthesizer(generator, config, images, kps, seed=seed, **(fast or {}),
                            example_masks=[ex_clip.mask(i) for i in idx])
        gen = [f.image for f in synth.run(seq.frames, driver_size=seq.size, retarget=False)]
        out[("model", k)] = scorer(gen, seq, rows)
        if not baselines:
            continue
        frames = baseline_frames(synth, example_masks(synth, [ex_clip.mask(i) for i in idx]),
                                 seq.driving)
        for name in ("copy", "limb-warp", "prior-warp"):
            out[(name, k)] = scorer(frames[name], seq, rows)
    return out


def example_masks(synth, masks: list[np.ndarray | None]) -> list[np.ndarray]:
    """The examples' person masks (in their source pixels; None = unknown: all person) in the
    model frame, through each example's own view (`Synthesizer.examples.views`)."""
    w, h = synth.cfg.size
    return [v.label(m) if m is not None else np.full((h, w), 255, np.uint8)
            for v, m in zip(synth.examples.views, masks)]


def baseline_frames(synth, masks: list[np.ndarray], driving: list[np.ndarray]
                    ) -> dict[str, list[np.ndarray]]:
    """The untrained baselines (`BASELINES`) for a synthesizer's examples and one driving pose
    per frame ((25, 3) in model px): "copy" (the example nearest in pose, unchanged),
    "limb-warp" and "prior-warp", both with the synthesizer's background alignment (set by its
    last `run`). masks: the examples' person masks in the model frame (`example_masks`)."""
    from v2vtool.metrics.limb_warp import limb_warp
    from v2vtool.metrics.prior_warp import prior_warp_frames

    ex_img = synth.examples.images
    ex_pose = [_pose(f) for f in synth.examples.keypoints]
    near = [_nearest(ex_pose, d) for d in driving]
    bg = synth.background  # the model's static-scene alignment, shared by the warps
    return {"copy": [ex_img[j] for j in near],
            "limb-warp": [limb_warp(ex_img[j], ex_pose[j], masks[j], d,
                                    scene=None if bg is None else bg[j])
                          for j, d in zip(near, driving)],
            "prior-warp": prior_warp_frames(ex_img, ex_pose, driving, background=bg,
                                            people=synth.examples.people, plate=synth.plate)}


def drift_motion(dataset: Path, driver_identity: str, index: int, seed: int, frames: int
                 ) -> list:
    """The long driver of protocol item `index`: the body of its driver clip's identity dancing
    a fresh procedural dance of `frames` frames (data/synth/motion.py), drawn from
    default_rng([seed, index, 1]); keypoint Frames in the dataset's pixels."""
    from v2vtool.data.synth import dance_keypoints

    people = dance_keypoints(dataset, driver_identity, frames,
                             np.random.default_rng([seed, index, 1]))
    return [[p] for p in people]


def evaluate_generator(generator: torch.nn.Module, config, dataset: str | os.PathLike,
                       ks: list[int], seed: int = 0, max_frames: int | None = None,
                       keynet_dir: str | os.PathLike | None = None, baselines: bool = True,
                       progress: Callable[[str], None] | None = None,
                       drift_frames: int = DRIFT_FRAMES, amp: str = "auto",
                       compile: bool = False) -> dict:
    """Run the protocol (module docstring) with an in-memory generator; returns the result dict.

    max_frames cuts the regular drivers only; drift_frames (0: none) is the length of the long
    drift driver, which is generated, not cut from a clip. amp / compile: the synthesis fast
    path (`v2vtool.models.fastpath`; "auto" = as `v2v synthesize` runs by default)."""
    from v2vtool.models.fastpath import fast_path
    dataset = Path(dataset)
    cfg = config.generator
    if cfg.kind != "pose":
        raise UserError(f"benchmark: the checkpoint is a {cfg.kind!r} model; the procedural "
                        "benchmark drives pose models")
    skipped: dict = {}
    try:
        from v2vtool.metrics.keypoint_net import load_keypoint_estimator

        estimator = load_keypoint_estimator(keynet_dir)
    except MetricUnavailable as exc:
        estimator, skipped["pose_error"] = None, str(exc)
    try:
        from v2vtool.metrics.perceptual import load_lpips

        lp = load_lpips("alex")
    except MetricUnavailable as exc:
        lp, skipped["lpips"] = None, str(exc)
    scorer = _Scorer(estimator, lp)
    fast = {"amp": amp, "compile": compile}
    items = plan(dataset, ks, seed)
    say = progress or (lambda s: None)
    t0 = time.perf_counter()
    per_item = []
    for it in items:
        ex_clip, drv_clip = Clip(dataset / it["example_clip"]), Clip(dataset / it["driver_clip"])
        if ex_clip.size[0] != ex_clip.size[1]:
            raise UserError(f"{ex_clip.path}: benchmark clips must be square")
        n = len(drv_clip) if max_frames is None else min(max_frames, len(drv_clip))
        seq = _sequence(config, dataset, it["identity"],
                        [[main_person(f)] for f in drv_clip.keypoints[:n]], drv_clip.size)
        scorer.other = other_side_frames(ex_clip, it["example_frames"], drv_clip, n)
        rows = {("truth", 0): scorer(seq.truth, seq, sequence_rows())}
        rows.update(_run_methods(generator, config, ex_clip, it["example_frames"], seq, ks,
                                 seed, baselines, scorer, sequence_rows(),
                                 lambda s: say(f"{it['identity']} {s}"), fast))
        per_item.append({**it, "frames": n, "other_side_frames": len(scorer.other), "scores": [
            {"method": m, "k": k, **v} for (m, k), v in rows.items()]})
    scorer.other = None
    res = {"format": FORMAT, "dataset": str(dataset), "seed": seed, "ks": ks,
           "size": list(cfg.size), "pose_reference_height": REFERENCE_HEIGHT,
           "pose_estimator": None if estimator is None else "keynet",
           "rows": aggregate(per_item), "per_identity": per_item, "skipped": skipped,
           # the frames showing the side the first (K = 1) example does not
           "other_side": {"frames": sum(it["other_side_frames"] for it in per_item),
                          "rows": aggregate(per_item, other_side_columns())},
           "fast_path": fast_path(next(generator.parameters()).device, amp, "auto", compile,
                                  cfg.height * cfg.width).describe()}
    if drift_frames:
        res["drift"] = _drift(generator, config, dataset, items, ks, seed, baselines, scorer,
                              drift_frames, say, fast)
    res["seconds"] = round(time.perf_counter() - t0, 2)
    return res


def _drift(generator, config, dataset: Path, items: list[dict], ks: list[int], seed: int,
           baselines: bool, scorer: _Scorer, frames: int, say, fast: dict | None = None
           ) -> dict:
    """The drift protocol: per item, the model and baselines on a long generated driver,
    scored per quarter (after the regular protocol, so its numbers do not depend on this)."""
    if frames < QUARTERS:
        raise UserError(f"--drift-frames {frames}: needs at least {QUARTERS} frames (or 0)")
    from v2vtool.data.synth import read_manifest

    side = int(read_manifest(dataset)["size"])
    per_item = []
    for index, it in enumerate(items):
        driver = Clip(dataset / it["driver_clip"]).meta["identity"]
        seq = _sequence(config, dataset, it["identity"],
                        drift_motion(dataset, driver, index, seed, frames), (side, side))
        rows = _run_methods(generator, config, Clip(dataset / it["example_clip"]),
                            it["example_frames"], seq, ks, seed, baselines, scorer,
                            drift_rows(), lambda s: say(f"{it['identity']} drift {s}"), fast)
        per_item.append({"identity": it["identity"], "example_clip": it["example_clip"],
                         "example_frames": it["example_frames"], "driver_identity": driver,
                         "frames": frames, "scores": [
                             {"method": m, "k": k, **v} for (m, k), v in rows.items()]})
    return {"frames": frames, "motion": "procedural dance of the driver clip's identity "
            "(data/synth/motion.py), drawn from default_rng([seed, item, 1])",
            "rows": aggregate(per_item, columns(drift_rows())), "per_identity": per_item}


def aggregate(per_item: list[dict], cols: list[Column] | None = None) -> list[dict]:
    """Mean of every column (default: the regular protocol's) over identities, one row per
    (method, K)."""
    keys = [c.key for c in (cols if cols is not None else columns())]
    groups: dict = {}
    for it in per_item:
        for s in it["scores"]:
            groups.setdefault((s["method"], s["k"]), []).append(s)
    order = {"model": 0, **{b: i + 1 for i, b in enumerate(BASELINES)}, "truth": 9}
    rows = []
    for (m, k), ss in sorted(groups.items(), key=lambda x: (order.get(x[0][0], 9), x[0][1])):
        row = {"method": m, "k": k, "identities": len(ss)}
        for key in keys:
            vals = [s[key] for s in ss if s.get(key) is not None]
            if vals:
                row[key] = float(np.mean(vals))
        rows.append(row)
    return rows


def run_benchmark(dataset: str | os.PathLike, checkpoint: str | os.PathLike, ks: list[int],
                  seed: int = 0, max_frames: int | None = None, fid_weights=None,
                  device: str = "cpu", console=None, keynet_dir=None,
                  drift_frames: int = DRIFT_FRAMES, amp: str = "auto",
                  compile: bool = False) -> dict:
    """Load a checkpoint and run the protocol (the library function behind the CLI)."""
    from v2vtool.metrics.evaluate import versions
    from v2vtool.models.checkpoint import load_generator

    dataset = Path(dataset)
    if not (dataset / "manifest.json").is_file():
        raise UserError(f"{dataset}: not a 'v2v data synth' set (no manifest.json)")
    loaded = load_generator(checkpoint, device)
    status = console.status("benchmark") if console is not None else None
    if status is not None:
        status.start()
    try:
        res = evaluate_generator(loaded.generator, loaded.config, dataset, ks, seed, max_frames,
                                 keynet_dir=keynet_dir, drift_frames=drift_frames,
                                 amp=amp, compile=compile,
                                 progress=(lambda s: status.update(f"benchmark: {s}"))
                                 if status is not None else None)
    finally:
        if status is not None:
            status.stop()
    if fid_weights is not None:
        res["skipped"]["fid"] = ("FID is not part of the per-identity protocol (a few dozen "
                                 "frames per cell); use `v2v evaluate --generated --real`")
    res.update(checkpoint=str(loaded.path), checkpoint_sha256=loaded.sha256,
               ema=loaded.ema, versions=versions())
    return res


def rows_table(title: str, caption: str, rows: list[dict], cols: list[Column]):
    from rich import box
    from rich.table import Table

    # compact (one space between columns): the eleven columns fit an 80-column terminal
    t = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, padding=0, pad_edge=False)
    cols = [c for c in cols if any(r.get(c.key) is not None for r in rows)]
    t.add_column("method", no_wrap=True, min_width=9)
    t.add_column("K", justify="right")
    for c in cols:
        t.add_column(c.label, justify="right")
    for r in rows:
        t.add_row(r["method"], str(r["k"]) if r["k"] else "-",
                  *[f"{r[c.key]:.3g}" if r.get(c.key) is not None else "-" for c in cols])
    return t


def print_benchmark(res: dict, console) -> None:
    from rich.markup import escape

    console.print(rows_table(
        f"benchmark (seed {res['seed']}, {res['size'][0]}x{res['size'][1]})",
        f"{escape(str(res['dataset']))}; pose = pose error in px at "
        f"{res['pose_reference_height']} px "
        "height, miss = missing-joint rate; person = PSNR inside the true person mask, ghost "
        "= L1 outside it (dilated)", res["rows"], columns()))
    other = res.get("other_side")
    if other and other["frames"]:
        console.print(rows_table(
            f"the other side ({other['frames']} frames)", "* = on the driver frames whose "
            "view (front / back / side) differs from the first example's: what a second "
            "example is for", other["rows"], other_side_columns()))
    drift = res.get("drift")
    if drift:
        cols = columns(drift_rows())
        cols = [c for c in cols if c.key != "psnr_drift"] + [c for c in cols
                                                              if c.key == "psnr_drift"]
        console.print(rows_table(
            f"drift ({drift['frames']}-frame driver)", "PSNR per quarter of the frames; "
            "drift = last quarter - first (dB)", drift["rows"], cols))
    for k, why in res.get("skipped", {}).items():
        console.print(f"[yellow]skipped[/] {k}: {escape(str(why))}", highlight=False,
                      soft_wrap=True)
