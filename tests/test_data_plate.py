"""data/plate.py: the examples' silhouettes and the background plate behind them."""
import numpy as np
import pytest

from v2vtool.data.plate import PERSON_MARGIN, background_plate, person_hole, person_mask
from tests.test_models_generator_prior import BASE

H = W = 64


def pose() -> np.ndarray:
    kp = np.zeros((25, 3), np.float32)
    for j, (x, y) in BASE.items():
        kp[j] = (x, y, 1.0)
    return kp


def scene() -> np.ndarray:
    """A textured static scene (H, W, 3) uint8: every pixel distinct enough to locate."""
    yy, xx = np.mgrid[0:H, 0:W]
    return np.stack([xx * 4, yy * 4, (xx + yy) * 2], -1).clip(0, 255).astype(np.uint8)


def test_person_mask_is_the_segmentation_plus_strokes_else_the_keypoint_body():
    kp = pose()
    seg = np.zeros((H, W), np.uint8)
    seg[10:20, 28:36] = 255  # only the head segmented
    m = person_mask(seg, kp, (W, H))
    assert m[15, 32] and m[40, 28]  # the head (mask) and a thigh (skeleton stroke)
    assert not m[5, 5]
    body = person_mask(None, kp, (W, H))
    assert body.sum() > m.sum()  # bone capsules are wider than strokes
    assert body[40, 28] and not body[2, 60]


def test_plate_takes_the_first_example_that_shows_the_scene_and_inpaints_the_rest():
    s = scene()
    a, b = s.copy(), s.copy()
    pa, pb = np.zeros((H, W), bool), np.zeros((H, W), bool)
    pa[10:40, 10:30], pb[20:50, 20:40] = True, True  # each example's person stands elsewhere
    a[pa], b[pb] = (255, 0, 0), (0, 0, 255)
    plate, known = background_plate([a, b], [pa, pb])
    hole_a, hole_b = person_hole(pa), person_hole(pb)
    seen = ~(hole_a & hole_b)
    assert np.array_equal(known, seen)
    assert np.array_equal(plate[known], s[known])  # the scene, never a person's colour
    both = hole_a & hole_b
    assert both.any() and not (plate[both] == (255, 0, 0)).all(-1).any()
    # K = 1: the person's place (grown by the margin) is inpainted, the rest is the scene
    plate1, known1 = background_plate([a], [pa])
    assert np.array_equal(known1, ~hole_a) and np.array_equal(plate1[known1], s[known1])
    r = max(1, round(PERSON_MARGIN * H))
    assert hole_a[10 - r, 20] and not hole_a[10 - r - 1, 20]


def test_scene_maps_output_pixels_to_example_pixels():
    """scene[k]: output px -> example px. A camera shifted by (+3, +2) px: the example shows
    output pixel (x, y) at (x + 3, y + 2); the plate must put the example's pixel (13, 12)
    at output (10, 10) (inverting the map fails)."""
    s = scene()
    shift = np.array([[1, 0, 3], [0, 1, 2]], np.float32)
    plate, known = background_plate([s], [np.zeros((H, W), bool)], scene=shift[None])
    assert tuple(plate[10, 10]) == tuple(s[12, 13])
    assert not known[:, -3:].any() and known[:, :-3].any()  # past the example's edge: unseen


def test_plate_needs_one_mask_per_image():
    with pytest.raises(ValueError):
        background_plate([scene()], [])
