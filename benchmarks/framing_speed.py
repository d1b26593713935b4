"""Speed of `synthesize --framing crop` vs `--framing full` on a 1280x720 clip-dir driver.

    python benchmarks/framing_speed.py [--frames 60] [--threads 1] [--repeats 2]

The driver is the shipped examples/driver clip (256x256, 60 frames) with its frames and
keypoints scaled to 1280x720 (a clip dir: no pose extraction in the loop); the examples are
examples/target_front.png and target_back.png (256x256: another camera, so full framing
extends their background). Prints end-to-end and generator frames/s per framing (best of
--repeats) and the output size; the difference is the scale-up + blend + encoding of 1280x720
frames (the plate is computed once, at the first frame).
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import cv2
import numpy as np

SIZE = (1280, 720)


def make_driver(src: Path, out: Path, frames: int) -> Path:
    from v2vtool.io.clipdir import Clip, ClipWriter

    clip = Clip(src)
    sx, sy = SIZE[0] / clip.size[0], SIZE[1] / clip.size[1]
    with ClipWriter(out, "pose", clip.fps) as w:
        for i in range(min(frames, len(clip))):
            img = cv2.resize(clip.frame(i), SIZE, interpolation=cv2.INTER_CUBIC)
            people = [p.transformed(np.array([sx, sy], np.float32),
                                    np.array([0.5 * sx - 0.5, 0.5 * sy - 0.5], np.float32))
                      for p in clip.keypoints[i]]
            w.add(img, keypoints=people)
        w.close()
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--checkpoint", default=None, help="default: the shipped model")
    args = ap.parse_args(argv)
    import platform

    import torch

    from v2vtool.resources import find_examples
    from v2vtool.synthesis import synthesize

    torch.set_num_threads(args.threads)
    ex = find_examples()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        driver = make_driver(ex / "driver", tmp / "driver", args.frames)
        for framing in ("crop", "full"):
            best = None
            for r in range(args.repeats):
                res = synthesize([ex / "target_front.png", ex / "target_back.png"], driver,
                                 tmp / f"{framing}{r}.mp4", checkpoint=args.checkpoint,
                                 framing=framing, retarget=False, device="cpu")
                if best is None or res.throughput_fps > best.throughput_fps:
                    best = res
            rows.append({"framing": framing, "output": list(best.size), "frames": best.frames,
                         "end_to_end_fps": round(best.throughput_fps, 1),
                         "generator_fps": round(best.generator_fps, 1)})
    print(json.dumps({"cpu": platform.processor() or platform.machine(),
                      "threads": args.threads, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
