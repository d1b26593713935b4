"""Does the pose extractor of `v2v extract --kind pose` see the synthetic dancers?

Renders dancers in memory (as `v2v data synth` does), runs `get_extractor("pose")` (mediapipe
Holistic, model_complexity=1, video mode: one tracker per clip, as `v2v extract` runs it) and
reports per view (front / side / back, from the generator's true yaw):
  detected   fraction of frames with a body found
  err_px     mean distance (px) of detected body joints to the true BODY_25 joints
             (13 limb joints: neck, shoulders, elbows, wrists, mid/hips, knees, ankles)
  err_torso  the same divided by the true torso length (neck - mid hip)
  lr_swap    fraction of detected frames where the left/right-flipped detection fits better
  err_min    err_torso of the better of (detection, left/right-flipped detection)
  face       fraction of frames with face points detected (truth has them only from the front)

    python benchmarks/synth_detect.py [--sizes 128 256] [--identities 6] [--frames 60] [--json]
"""
from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

import numpy as np

from v2vtool.data.synth import render_background, sample_identity, view_of
from v2vtool.data.synth.motion import dance_clip, sample_dance
from v2vtool.data.synth.rasterize import Renderer
from v2vtool.io.keypoints import BODY_25_FLIP
from v2vtool.semantics.kinds import get_extractor

LIMB_JOINTS = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14])


def joint_error(det: np.ndarray, truth: np.ndarray) -> float | None:
    idx = LIMB_JOINTS[(det[LIMB_JOINTS, 2] > 0) & (truth[LIMB_JOINTS, 2] > 0)]
    if len(idx) == 0:
        return None
    return float(np.linalg.norm(det[idx, :2] - truth[idx, :2], axis=1).mean())


def run(size: int, identities: int, frames: int, seed: int) -> dict:
    stats = defaultdict(lambda: defaultdict(list))
    t0 = time.perf_counter()
    for i in range(identities):
        app = sample_identity(np.random.default_rng([seed, i]))
        renderer = Renderer(app, size, render_background(app, size))
        people, yaws = dance_clip(app, sample_dance(np.random.default_rng([seed, i, 0, 1]),
                                                    frames), frames, size)
        with get_extractor("pose", mask=False) as extractor:
            for person, yaw in zip(people, yaws):
                img, _ = renderer.render(person)
                found, _ = extractor.detect(img)
                s = stats[view_of(yaw)]
                s["detected"].append(bool(found))
                truth = person.pose
                torso = float(np.linalg.norm(truth[1, :2] - truth[8, :2]))
                if found:
                    det = found[0].pose
                    err = joint_error(det, truth)
                    flipped = joint_error(det[list(BODY_25_FLIP)], truth)
                    if err is not None:
                        s["err_px"].append(err)
                        s["err_torso"].append(err / torso)
                        s["lr_swap"].append(flipped is not None and flipped < err)
                        best = err if flipped is None else min(err, flipped)
                        s["err_min"].append(best / torso)
                    s["face"].append(bool(found[0].face[:, 2].any()))
                else:
                    s["face"].append(False)
    out = {"size": size, "seconds": round(time.perf_counter() - t0, 1), "views": {}}
    for view in ("front", "side", "back"):
        s = stats[view]
        mean = lambda k: (round(float(np.mean(s[k])), 3) if s[k] else None)  # noqa: E731
        out["views"][view] = {"frames": len(s["detected"]), "detected": mean("detected"),
                              "err_px": mean("err_px"), "err_torso": mean("err_torso"),
                              "lr_swap": mean("lr_swap"), "err_min": mean("err_min"),
                              "face": mean("face")}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    ap.add_argument("--identities", type=int, default=6)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = [run(s, args.identities, args.frames, args.seed) for s in args.sizes]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'size':>5} {'view':>6} {'frames':>6} {'detected':>8} {'err_px':>7} "
          f"{'err/torso':>9} {'lr_swap':>7} {'err_min':>7} {'face':>5}")
    for r in results:
        for view, v in r["views"].items():
            f = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
            print(f"{r['size']:>5} {view:>6} {v['frames']:>6} {f(v['detected']):>8} "
                  f"{f(v['err_px']):>7} {f(v['err_torso']):>9} {f(v['lr_swap']):>7} "
                  f"{f(v['err_min']):>7} {f(v['face']):>5}")


if __name__ == "__main__":
    main()
