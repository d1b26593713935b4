"""The "per-limb similarity warp" baseline (PoseWarp-style, Balakrishnan et al. 2018, our own
simple version): cut the example person into body parts, move each part with the 2-D
similarity transform (rotation, scale, translation) that maps its joints in the example onto the
driving pose, and paste the parts, back to front, over the example's background (the person
inpainted away). No learning; a floor any learned model should beat.

All coordinates are pixels of the (H, W) frame; poses are BODY_25 (25, 3) arrays.
"""
from __future__ import annotations

import cv2
import numpy as np

# (name, joints fitting the transform, joints whose segments form the part region), drawn in order
PARTS: tuple[tuple[str, tuple[int, ...], tuple[tuple[int, int], ...]], ...] = (
    ("torso", (1, 2, 5, 8, 9, 12), ((1, 8), (2, 9), (5, 12), (2, 5), (9, 12))),
    ("head", (0, 1, 15, 16, 17, 18), ((0, 1), (15, 16), (17, 18))),
    ("r_thigh", (9, 10), ((9, 10),)), ("l_thigh", (12, 13), ((12, 13),)),
    ("r_shin", (10, 11), ((10, 11),)), ("l_shin", (13, 14), ((13, 14),)),
    ("r_foot", (11, 22, 24), ((11, 22), (11, 24))), ("l_foot", (14, 19, 21), ((14, 19), (14, 21))),
    ("r_upper_arm", (2, 3), ((2, 3),)), ("l_upper_arm", (5, 6), ((5, 6),)),
    ("r_forearm", (3, 4), ((3, 4),)), ("l_forearm", (6, 7), ((6, 7),)),
)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    """Least-squares 2-D similarity (Umeyama) mapping src (N, 2) onto dst (N, 2): (2, 3)."""
    if len(src) < 2:
        return None
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    var = (a ** 2).sum()
    if var < 1e-6:
        return None
    # complex-number form: b ~ z a, z = sum(conj(a) b) / sum(|a|^2)
    za = a[:, 0] + 1j * a[:, 1]
    zb = b[:, 0] + 1j * b[:, 1]
    z = (np.conj(za) * zb).sum() / var
    c, s = z.real, z.imag
    rot = np.array([[c, -s], [s, c]])
    t = md - rot @ ms
    return np.hstack([rot, t[:, None]]).astype(np.float32)


def _segment_mask(shape, pose: np.ndarray, segs, radius: int) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    for a, b in segs:
        if pose[a, 2] > 0 and pose[b, 2] > 0:
            cv2.line(m, tuple(int(round(v)) for v in pose[a, :2]),
                     tuple(int(round(v)) for v in pose[b, :2]), 255, max(1, 2 * radius))
    return m


def body_height(pose: np.ndarray) -> float:
    pts = pose[pose[:, 2] > 0, :2]
    return float(np.ptp(pts[:, 1])) if len(pts) >= 2 else 0.0


def background(image: np.ndarray, person_mask: np.ndarray) -> np.ndarray:
    """The example with the person inpainted away (mask dilated a little)."""
    m = cv2.dilate((person_mask > 127).astype(np.uint8) * 255, np.ones((5, 5), np.uint8))
    return cv2.inpaint(image, m, 3, cv2.INPAINT_TELEA)


def limb_warp(example: np.ndarray, example_pose: np.ndarray, person_mask: np.ndarray,
              driving_pose: np.ndarray, scene: np.ndarray | None = None) -> np.ndarray:
    """example (H, W, 3) uint8, its pose and person mask (H, W) 0/255 -> the example re-posed to
    driving_pose (H, W, 3) uint8. Parts whose joints are missing on either side are dropped.
    scene: (2, 3) output px -> example px of the static background (examples and driver from
    one camera: the background is moved there, as the synthesizer does); None: kept in place."""
    h, w = example.shape[:2]
    out = background(example, person_mask)
    if scene is not None:
        out = cv2.warpAffine(out, np.asarray(scene, np.float32), (w, h),
                             flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REPLICATE)
    radius = max(1, int(round(0.07 * max(body_height(example_pose), 8.0))))
    pm = (person_mask > 127).astype(np.uint8)
    for _, fit_joints, segs in PARTS:
        ok = [j for j in fit_joints if example_pose[j, 2] > 0 and driving_pose[j, 2] > 0]
        m = similarity(example_pose[ok, :2].astype(np.float64),
                       driving_pose[ok, :2].astype(np.float64))
        if m is None:
            continue
        region = _segment_mask((h, w), example_pose, segs, radius)
        if segs is PARTS[0][2]:  # torso: fill the polygon of its joints
            pts = example_pose[[j for j in (2, 5, 12, 9) if example_pose[j, 2] > 0], :2]
            if len(pts) >= 3:
                cv2.fillConvexPoly(region, cv2.convexHull(pts.astype(np.int32)), 255)
        region = region * pm
        if not region.any():
            continue
        warped = cv2.warpAffine(example, m, (w, h), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
        wm = cv2.warpAffine(region, m, (w, h), flags=cv2.INTER_LINEAR) > 0
        out[wm] = warped[wm]
    return out
