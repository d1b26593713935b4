"""The background inpainter: known pixels kept, holes filled from their surroundings."""
import numpy as np
import pytest
from skimage import data

from v2vtool.data.inpaint import inpaint


def test_known_pixels_unchanged_and_gradient_continued():
    # a horizontal colour ramp with a square hole: the fill continues the ramp (a flat mean fill
    # would be off by up to half the ramp's span at the hole's edges)
    ramp = np.tile(np.linspace(0, 255, 200)[None, :, None], (120, 1, 3)).round().astype(np.uint8)
    hole = np.zeros(ramp.shape[:2], bool)
    hole[30:90, 60:140] = True
    out = inpaint(ramp, hole)
    assert np.array_equal(out[~hole], ramp[~hole])
    err = np.abs(out[hole].astype(int) - ramp[hole]).mean()
    flat = np.abs(ramp[hole].astype(int) - ramp[hole].mean()).mean()
    assert err < 0.5 * flat


def test_large_image_filled_on_a_smaller_copy():
    img = data.astronaut()
    hole = np.zeros(img.shape[:2], bool)
    hole[100:400, 150:350] = True
    out = inpaint(img, hole, work_side=128)
    assert out.shape == img.shape and np.array_equal(out[~hole], img[~hole])
    assert out[hole].std() > 0  # not a constant


def test_empty_and_full_holes():
    img = data.astronaut()[:64, :64].copy()
    assert np.array_equal(inpaint(img, np.zeros((64, 64), bool)), img)
    full = inpaint(img, np.ones((64, 64), bool))
    assert np.all(full == full[0, 0])


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError):
        inpaint(np.zeros((8, 8, 3), np.uint8), np.zeros((4, 4), bool))


def test_wide_extension_is_smooth_far_from_the_border_not_streaked():
    """Telea alone drags each border pixel across a wide hole (streaks: rows keep the border's
    row-to-row contrast); the distance blur turns the far part into a smooth field."""
    rng = np.random.default_rng(0)
    img = np.zeros((100, 260, 3), np.uint8)
    img[:, :60] = rng.integers(0, 256, (100, 60, 3), dtype=np.uint8)
    hole = np.zeros(img.shape[:2], bool)
    hole[:, 60:] = True
    plain = inpaint(img, hole, far_blur=0)
    smooth = inpaint(img, hole)
    assert np.array_equal(smooth[:, :60], img[:, :60])
    far = slice(180, 260)
    across_rows = lambda x: np.abs(np.diff(x[:, far].astype(float), axis=0)).mean()  # noqa: E731
    assert across_rows(smooth) < 0.25 * across_rows(plain), (across_rows(smooth),
                                                              across_rows(plain))
