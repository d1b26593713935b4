"""Constructed test scenes: a textured static background with a stick person drawn at known
BODY_25 keypoints (a static camera whose true scene is known exactly)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from v2vtool.io.clipdir import ClipWriter
from v2vtool.io.keypoints import Person

# BODY_25 joints relative to the mid-hip, in body heights (head top ~ -0.5, soles ~ +0.52)
_JOINTS = {0: (0, -0.45), 1: (0, -0.36), 2: (-0.1, -0.35), 3: (-0.16, -0.2), 4: (-0.18, -0.05),
           5: (0.1, -0.35), 6: (0.16, -0.2), 7: (0.18, -0.05), 8: (0, 0), 9: (-0.06, 0),
           10: (-0.07, 0.25), 11: (-0.08, 0.5), 12: (0.06, 0), 13: (0.07, 0.25),
           14: (0.08, 0.5), 15: (-0.02, -0.47), 16: (0.02, -0.47), 17: (-0.04, -0.46),
           18: (0.04, -0.46), 19: (0.1, 0.52), 20: (0.11, 0.52), 21: (0.07, 0.51),
           22: (-0.1, 0.52), 23: (-0.11, 0.52), 24: (-0.07, 0.51)}
_LIMBS = ((1, 8), (2, 5), (2, 3), (3, 4), (5, 6), (6, 7), (9, 12), (9, 10), (10, 11), (12, 13),
          (13, 14), (1, 0))


def skeleton(cx: float, cy: float, height: float) -> np.ndarray:
    """(25, 3) BODY_25 keypoints of a standing person, mid-hip at (cx, cy)."""
    kp = np.zeros((25, 3), np.float32)
    for j, (x, y) in _JOINTS.items():
        kp[j] = (cx + x * height, cy + y * height, 1.0)
    return kp


def person_mask(kp: np.ndarray, size: tuple[int, int], height: float) -> np.ndarray:
    """(h, w) bool: the pixels `draw_person` paints."""
    mask = np.zeros((size[1], size[0]), np.uint8)
    t = max(2, int(round(0.07 * height)))
    for a, b in _LIMBS:
        cv2.line(mask, tuple(int(round(v)) for v in kp[a, :2]),
                 tuple(int(round(v)) for v in kp[b, :2]), 1, t)
    cv2.circle(mask, tuple(int(round(v)) for v in kp[0, :2]), int(round(0.07 * height)), 1, -1)
    return mask > 0


def textured_scene(size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """(h, w, 3) uint8: smooth colour gradients + fine noise texture (no flat areas)."""
    w, h = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([80 + 100 * xx / w, 70 + 120 * yy / h, 200 - 80 * (xx + yy) / (w + h)], -1)
    noise = cv2.GaussianBlur(rng.normal(0, 25, (h, w, 3)).astype(np.float32), (0, 0), 1.2)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def draw_person(scene: np.ndarray, kp: np.ndarray, height: float) -> np.ndarray:
    out = scene.copy()
    out[person_mask(kp, (scene.shape[1], scene.shape[0]), height)] = (220, 40, 40)
    return out


def write_scene_clip(path: Path, size: tuple[int, int], centres: list[tuple[float, float]],
                     height: float, seed: int = 0, fps: float = 25) -> tuple[Path, np.ndarray]:
    """A pose clip dir of one static camera: the scene with the person at each centre.
    Returns (clip path, the true scene)."""
    scene = textured_scene(size, seed)
    with ClipWriter(path, "pose", fps) as w:
        for cx, cy in centres:
            kp = skeleton(cx, cy, height)
            w.add(draw_person(scene, kp, height), keypoints=[Person(pose=kp)])
        w.close()
    return path, scene
