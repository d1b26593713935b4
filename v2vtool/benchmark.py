"""The benchmark protocol on a `v2v data synth` set (`v2v evaluate --benchmark`).

For every held-out (test) identity, deterministically given the seed:
  1. examples: K frames of one of its clips, views spread (front, back, side, front, ...);
     the examples for K=1 are a subset of those for K=2, which are a subset of K=4;
  2. driver: the motion (keypoints) of a clip of ANOTHER identity (held-out clips first);
  3. truth: the identity rendered performing that motion (`render_identity`), exact;
  4. synthesis: the synthesis engineer's streaming `Synthesizer` (no retargeting: the truth is
     rendered on the driver's skeleton), output at the model's resolution;
  5. scores, in the model's frame (truth and driving keypoints mapped with the same
     person-centred view the synthesizer uses): PSNR / SSIM / L1 (+ LPIPS when its weights are
     here), pose error (benchmark keypoint net on the output vs the driving pose, at the
     reference height), flow-warping error (flow from the truth frames).
Rows: the model per K, and the baselines per K: "copy" (the example nearest in pose, unchanged)
and "limb-warp" (per-limb similarity warp of that example, `metrics/limb_warp.py`); plus the
"truth" row: the truth frames themselves scored the same way (pose error = the estimator's
floor, warp error = the truth video's own).
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from v2vtool.errors import UserError
from v2vtool.io.clipdir import Clip
from v2vtool.io.keypoints import main_person
from v2vtool.metrics.common import MetricUnavailable
from v2vtool.metrics.pose import REFERENCE_HEIGHT, pose_error
from v2vtool.metrics.reconstruction import l1, psnr, ssim
from v2vtool.metrics.temporal import warp_error

log = logging.getLogger(__name__)
FORMAT = "v2v-benchmark/1"
VIEW_ORDER = ("front", "back", "side")
METRICS = ("psnr", "ssim", "l1", "lpips", "pose_error", "pose_missing_rate", "warp_error")
SHORT = {"pose_error": "pose", "pose_missing_rate": "miss", "warp_error": "warp",
         "warp_error_truth": "warp(truth)"}


def parse_k(text: str) -> list[int]:
    try:
        ks = sorted({int(x) for x in str(text).split(",") if x.strip()})
    except ValueError:
        raise UserError(f"--k {text!r}: expected comma-separated integers like 1,2,4") from None
    if not ks or ks[0] < 1:
        raise UserError(f"--k {text!r}: K values must be >= 1")
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


def score_sequence(frames: list[np.ndarray], truth: list[np.ndarray], driving: list[np.ndarray],
                   estimator, lpips_model=None) -> dict:
    """Per-sequence scores (means over frames) of `frames` against truth / driving poses."""
    h = truth[0].shape[0]
    out = {"psnr": float(np.mean([psnr(f, t) for f, t in zip(frames, truth)])),
           "ssim": float(np.mean([ssim(f, t) for f, t in zip(frames, truth)])),
           "l1": float(np.mean([l1(f, t) for f, t in zip(frames, truth)]))}
    if lpips_model is not None:
        from v2vtool.metrics.perceptual import lpips_distance

        out["lpips"] = float(np.mean([lpips_distance(lpips_model, f, t)
                                      for f, t in zip(frames, truth)]))
    if estimator is not None:
        est = estimator.batch(frames) if hasattr(estimator, "batch") else [estimator(f)
                                                                            for f in frames]
        r = pose_error(est, driving, frame_height=h, joints=estimator.joints)
        out["pose_error"], out["pose_missing_rate"] = r.error, r.missing_rate
    if len(frames) >= 2:
        w = warp_error(frames, truth)
        out["warp_error"], out["warp_error_truth"] = w.generated, w.reference
    return out


def evaluate_generator(generator: torch.nn.Module, config, dataset: str | os.PathLike,
                       ks: list[int], seed: int = 0, max_frames: int | None = None,
                       keynet_dir: str | os.PathLike | None = None, baselines: bool = True,
                       progress: Callable[[str], None] | None = None, amp: str = "auto",
                       compile: bool = False) -> dict:
    """Run the protocol (module docstring) with an in-memory generator; returns the result dict.
    amp / compile: the synthesis fast path (`v2vtool.models.fastpath`; "auto" = as `v2v
    synthesize` runs by default)."""
    from v2vtool.data.synth import render_identity
    from v2vtool.synthesis.stream import REFERENCE_FRAMES, Synthesizer, make_fit
    from v2vtool.metrics.limb_warp import limb_warp

    dataset = Path(dataset)
    cfg = config.generator
    if cfg.kind != "pose":
        raise UserError(f"benchmark: the checkpoint is a {cfg.kind!r} model; the procedural "
                        "benchmark drives pose models")
    size = (cfg.width, cfg.height)
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
    items = plan(dataset, ks, seed)
    per_item = []
    say = progress or (lambda s: None)
    t0 = time.perf_counter()
    fast = None
    for it in items:
        ex_clip, drv_clip = Clip(dataset / it["example_clip"]), Clip(dataset / it["driver_clip"])
        if ex_clip.size[0] != ex_clip.size[1]:
            raise UserError(f"{ex_clip.path}: benchmark clips must be square")
        n = len(drv_clip) if max_frames is None else min(max_frames, len(drv_clip))
        drv_frames = [[main_person(f)] for f in drv_clip.keypoints[:n]]
        src = drv_clip.size
        fit = make_fit("pose", config.data, src, size, drv_frames[:REFERENCE_FRAMES])
        truth = [fit.image(img) for img, _ in
                 render_identity(dataset, it["identity"], drv_frames, src[0])]
        driving = [_pose(fit.keypoints(f)) for f in drv_frames]
        rows = {("truth", 0): score_sequence(truth, truth, driving, estimator, lp)}
        for k in ks:
            say(f"{it['identity']} K={k}")
            idx = it["example_frames"][:k]
            images = [ex_clip.frame(i) for i in idx]
            kps = [ex_clip.keypoints[i] for i in idx]
            torch.manual_seed(seed)
            synth = Synthesizer(generator, config, images, kps, seed=seed, amp=amp,
                                compile=compile)
            fast = synth.fast.describe()
            gen = [f.image for f in synth.run(drv_frames, driver_size=src, retarget=False)]
            rows[("model", k)] = score_sequence(gen, truth, driving, estimator, lp)
            if baselines:
                ex_img = synth.examples.images
                ex_pose = [_pose(f) for f in synth.examples.keypoints]
                masks = []
                for i, kp in zip(idx, kps):
                    m = ex_clip.mask(i)
                    efit = make_fit("pose", config.data, ex_clip.size, size, [kp])
                    masks.append(efit.label(m) if m is not None else
                                 np.full(size[::-1], 255, np.uint8))
                near = [_nearest(ex_pose, d) for d in driving]
                copy = [ex_img[j] for j in near]
                warp = [limb_warp(ex_img[j], ex_pose[j], masks[j], d)
                        for j, d in zip(near, driving)]
                rows[("copy", k)] = score_sequence(copy, truth, driving, estimator, lp)
                rows[("limb-warp", k)] = score_sequence(warp, truth, driving, estimator, lp)
        per_item.append({**it, "frames": n, "scores": [
            {"method": m, "k": k, **v} for (m, k), v in rows.items()]})
    return {"format": FORMAT, "dataset": str(dataset), "seed": seed, "ks": ks,
            "size": list(size), "pose_reference_height": REFERENCE_HEIGHT,
            "pose_estimator": None if estimator is None else "keynet",
            "rows": aggregate(per_item), "per_identity": per_item, "skipped": skipped,
            "fast_path": fast, "seconds": round(time.perf_counter() - t0, 2)}


def aggregate(per_item: list[dict]) -> list[dict]:
    """Mean of every metric over identities, one row per (method, K)."""
    groups: dict = {}
    for it in per_item:
        for s in it["scores"]:
            groups.setdefault((s["method"], s["k"]), []).append(s)
    order = {"model": 0, "limb-warp": 1, "copy": 2, "truth": 3}
    rows = []
    for (m, k), ss in sorted(groups.items(), key=lambda x: (order.get(x[0][0], 9), x[0][1])):
        row = {"method": m, "k": k, "identities": len(ss)}
        for key in METRICS + ("warp_error_truth",):
            vals = [s[key] for s in ss if s.get(key) is not None]
            if vals:
                row[key] = float(np.mean(vals))
        rows.append(row)
    return rows


def run_benchmark(dataset: str | os.PathLike, checkpoint: str | os.PathLike, ks: list[int],
                  seed: int = 0, max_frames: int | None = None, fid_weights=None,
                  device: str = "cpu", console=None, keynet_dir=None, amp: str = "auto",
                  compile: bool = False) -> dict:
    """Load a checkpoint and run the protocol (the library function behind the CLI)."""
    from v2vtool.metrics.evaluate import versions
    from v2vtool.training.checkpoint import load_generator

    dataset = Path(dataset)
    if not (dataset / "manifest.json").is_file():
        raise UserError(f"{dataset}: not a 'v2v data synth' set (no manifest.json)")
    loaded = load_generator(checkpoint, device)
    status = console.status("benchmark") if console is not None else None
    if status is not None:
        status.start()
    try:
        res = evaluate_generator(loaded.generator, loaded.config, dataset, ks, seed, max_frames,
                                 keynet_dir=keynet_dir, amp=amp, compile=compile,
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


def print_benchmark(res: dict, console) -> None:
    from rich.table import Table

    t = Table(title=f"benchmark (seed {res['seed']}, {res['size'][0]}x{res['size'][1]})",
              caption=f"{res['dataset']}; pose = pose error in px at "
                      f"{res['pose_reference_height']} px height, miss = missing-joint rate")
    cols = [c for c in METRICS + ("warp_error_truth",) if any(c in r for r in res["rows"])]
    t.add_column("method", no_wrap=True, min_width=9)
    t.add_column("K", justify="right")
    for c in cols:
        t.add_column(SHORT.get(c, c), justify="right")
    for r in res["rows"]:
        t.add_row(r["method"], str(r["k"]) if r["k"] else "-",
                  *[f"{r[c]:.3g}" if c in r else "-" for c in cols])
    console.print(t)
    for k, why in res.get("skipped", {}).items():
        console.print(f"[yellow]skipped[/] {k}: {why}", highlight=False, soft_wrap=True)
