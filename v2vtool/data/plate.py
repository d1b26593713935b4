"""The background plate: the scene behind the person, as the examples show it, in the target's
frame (host side, once per video or training sample).

Every example shows the static scene except where its own person stands. For each target
pixel the plate takes the scene from the first example (in order) that shows it there — with
several examples, a pixel hidden by the person in one example is often visible in another —
and fills what no example shows with the classical inpainter (`data/inpaint.py`), instead of
the flat push-pull colour that made a halo around re-posed real people. `known` says which
plate pixels are seen scene (trustworthy) and which are filled (a guess the generator may
improve on).

Geometry: examples and target share one camera. In training (one crop for the whole sample)
each example pixel is the target pixel; in synthesis `scene` (K, 2, 3) maps target px ->
example px (the synthesizer's static-camera alignment, `View.map_to`).
"""
from __future__ import annotations

import cv2
import numpy as np

from v2vtool.data.inpaint import inpaint

PERSON_MARGIN = 0.01  # the person mask is grown by this fraction of the frame height (mask
# error, motion blur): a person pixel in the plate is a ghost, but every grown pixel is inpainted
# instead of seen (on the realdev train clips 0.01 gave lower ring and L1 errors than 0.03)


def person_hole(mask: np.ndarray, margin: float = PERSON_MARGIN) -> np.ndarray:
    """(H, W) person mask (bool / 0..255) -> (H, W) bool grown by `margin` x H px."""
    m = np.asarray(mask) > 0
    r = max(1, round(margin * m.shape[0]))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(m.astype(np.uint8), kernel) > 0


def person_mask(mask: np.ndarray | None, keypoints: np.ndarray | None, size: tuple[int, int],
                kind: str = "pose") -> np.ndarray:
    """An example's own person in its (w, h) frame -> (H, W) bool. With a segmentation mask
    (0 / 255): the mask plus (bodies) the skeleton's strokes (a segmentation misses a limb at
    times); without one: the body its keypoints ((J, 3) in the kind's prior layout) cover as
    the keypoint prior sees it (bone capsules: wider than the person, never narrower)."""
    import torch

    from v2vtool.semantics.kinds import get_kind

    w, h = size
    spec = get_kind(kind)
    if keypoints is None:
        return np.zeros((h, w), bool) if mask is None else np.asarray(mask) > 127
    kp = np.asarray(keypoints, np.float32)
    if mask is None:
        t = torch.from_numpy(kp)[None]
        return spec.prior(t, t[:, None], h, w).occupancy[0, 0].numpy() > 0.05
    person = np.asarray(mask) > 127
    return person | _skeleton(kp, (w, h)) if spec.body else person


def _skeleton(kp: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(J, 3) BODY_25-layout keypoints -> (H, W) bool: the bones drawn as lines a few px wide."""
    from v2vtool.semantics.prior import _BONES

    w, h = size
    out = np.zeros((h, w), np.uint8)
    width = max(1, round(0.02 * h))
    for a, b in _BONES.tolist():
        if a < len(kp) and b < len(kp) and kp[a, 2] > 0 and kp[b, 2] > 0:
            cv2.line(out, (int(round(kp[a, 0])), int(round(kp[a, 1]))),
                     (int(round(kp[b, 0])), int(round(kp[b, 1]))), 1, width)
    return out > 0


def background_plate(images: list[np.ndarray], person_masks: list[np.ndarray],
                     scene: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """images: K x (H, W, 3) uint8 example crops; person_masks: K x (H, W) their own person;
    scene: (K, 2, 3) target px -> example px (None: the same pixel) -> (plate (H, W, 3) uint8,
    known (H, W) bool: the pixel is scene seen in an example, not inpainted)."""
    if not images or len(images) != len(person_masks):
        raise ValueError("background_plate: need one person mask per example image")
    h, w = images[0].shape[:2]
    plate = np.zeros((h, w, 3), np.uint8)
    known = np.zeros((h, w), bool)
    for k, (img, mask) in enumerate(zip(images, person_masks)):
        seen = ~person_hole(mask)
        if scene is not None:  # resample into the target frame; outside the example: unseen
            a = np.asarray(scene[k], np.float64)
            flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
            img = cv2.warpAffine(img, a, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE)
            seen = cv2.warpAffine(seen.astype(np.uint8), a, (w, h), flags=cv2.INTER_NEAREST
                                  | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
                                  borderValue=0) > 0
        take = seen & ~known
        plate[take] = img[take]
        known |= take
        if known.all():
            break
    return inpaint(plate, ~known), known
