"""A contact sheet of synthetic identities, front and back (docs/dancers.png).

    python benchmarks/synth_picture.py [--out docs/dancers.png] [--size 128] [--n 8]
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np
from PIL import Image

from v2vtool.data.synth import render_background, sample_identity
from v2vtool.data.synth.motion import pose_3d, project, sample_dance
from v2vtool.data.synth.rasterize import Renderer


def sheet(n: int, size: int, seed: int = 0) -> np.ndarray:
    tiles = []
    for i in range(n):
        app = sample_identity(np.random.default_rng([seed, i]))  # as generate_dataset does
        renderer = Renderer(app, size, render_background(app, size))
        dance = sample_dance(np.random.default_rng([seed, i, 0, 1]), 60)
        joints, _ = pose_3d(app, dance, 0.4, 4.0)
        pair = []
        for yaw, label in ((0.0, "front"), (180.0, "back")):
            img, _ = renderer.render(project(app, joints, yaw, size))
            img = img.copy()
            cv2.putText(img, f"id{i:04d} {label}", (3, 11), cv2.FONT_HERSHEY_SIMPLEX,
                        0.3 * size / 128, (0, 0, 0), 1, cv2.LINE_AA)
            pair.append(img)
        tiles.append(np.concatenate(pair, 1))
    cols = 4
    rows = [np.concatenate(tiles[r:r + cols], 1) for r in range(0, n, cols)]
    return np.concatenate(rows, 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="docs/dancers.png")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--n", type=int, default=8)
    args = ap.parse_args()
    Image.fromarray(sheet(args.n, args.size)).save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
