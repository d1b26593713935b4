"""The real-footage protocol's metrics on constructed cases with known answers: person
sharpness, ring (halo) error, AKD / MKR, the identity score; and their rows in the metric
table."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from v2vtool.metrics import table
from v2vtool.metrics.appearance import (AppearanceInputs, appearance_distance, erode,
                                        hellinger, rgb_histogram)
from v2vtool.metrics.keypoint_distance import keypoint_distance
from v2vtool.metrics.masked import dilate
from v2vtool.metrics.ring import examples_region, ring_l1, ring_mask
from v2vtool.metrics.sharpness import gradient_energy, sharpness_ratio, sharpness_sums
from v2vtool.metrics.table import Inputs, PoseInputs, score


def _textured(size=64, seed=0):
    """A frame with detail everywhere (smoothed noise: gradients at several scales)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (size, size, 3)).astype(np.uint8)
    return cv2.GaussianBlur(x, (3, 3), 0.7)


def _box(size=64, lo=20, hi=44, x0=None, x1=None):
    m = np.zeros((size, size), np.uint8)
    m[lo:hi, (lo if x0 is None else x0):(hi if x1 is None else x1)] = 255
    return m


# ---- sharpness ------------------------------------------------------------------------------

def test_sharpness_identical_is_one_and_a_blurred_copy_reads_below_one():
    truth, mask = _textured(), _box()
    g, t = sharpness_sums(truth, truth, mask)
    assert g == t > 0 and sharpness_ratio([(g, t)]) == 1.0
    ratios = []
    for sigma in (0.8, 1.5, 3.0):
        blurred = cv2.GaussianBlur(truth, (0, 0), sigma)
        ratios.append(sharpness_ratio([sharpness_sums(blurred, truth, mask)]))
    assert ratios[0] < 0.7 and ratios[0] > ratios[1] > ratios[2] > 0  # more blur, lower
    assert sharpness_sums(truth, truth, np.zeros_like(mask)) is None  # nobody: undefined


def test_sharpness_counts_only_inside_the_mask_and_is_a_ratio_of_sums():
    truth, mask = _textured(), _box()
    flat_outside = truth.copy()
    flat_outside[dilate(mask > 0, 2) == 0] = 0  # destroy everything away from the person
    assert sharpness_ratio([sharpness_sums(flat_outside, truth, mask)]) == pytest.approx(1.0)
    # frame 1 identical, frame 2 flat: ratio of sums (not the mean of ratios, 0.5)
    flat = np.full_like(truth, 128)
    e1 = gradient_energy(truth)[mask > 0].sum()
    small = _box(lo=30, hi=34)
    e2 = gradient_energy(truth)[small > 0].sum()
    s = score(Inputs([truth, flat], 2, truth=[truth, truth], masks=[mask, small]),
              table.rows("sharpness"))
    assert s.values["sharpness"] == pytest.approx(e1 / (e1 + e2))


# ---- ring (halo) error ---------------------------------------------------------------------

def test_a_known_halo_scores_its_known_error():
    truth = np.full((64, 64, 3), 90, np.uint8)
    examples = _box(lo=16, hi=48, x0=8, x1=30) > 0  # where the example's person stood
    person = _box(lo=16, hi=48, x0=34, x1=50)  # the driven person, elsewhere now
    ring = ring_mask(person, examples, margin=3)
    assert ring.sum() == (examples & ~dilate(person > 0, 3)).sum() > 0
    gen = truth.copy()
    gen[ring] = 90 + 40  # the halo: constant error 40 in the ring
    gen[person > 0] = 0  # whatever the person looks like does not count
    assert ring_l1(gen, truth, person, examples, margin=3) == pytest.approx(40 / 255)
    assert ring_l1(truth, truth, person, examples, margin=3) == 0.0


def test_the_ring_excludes_the_dilated_truth_person():
    truth = np.full((64, 64, 3), 90, np.uint8)
    examples = _box(lo=16, hi=48) > 0
    person = _box(lo=16, hi=48, x0=24, x1=40)  # overlaps the examples' region
    margin = 4
    near = dilate(person > 0, margin)
    gen = truth.copy()
    gen[near] = 255  # error only on the person and its margin: not a halo
    assert not (ring_mask(person, examples, margin) & near).any()
    assert ring_l1(gen, truth, person, examples, margin) == 0.0
    # the driven person covers the whole region: no ring, undefined
    assert ring_l1(gen, truth, _box(lo=10, hi=54), examples, margin) is None


def test_examples_region_maps_each_example_with_its_background_alignment():
    m0, m1 = _box(lo=10, hi=20), _box(lo=40, hi=50)
    # output px -> example px: example 0 sees the output shifted by +5 px in x
    bg = np.array([[[1, 0, 5], [0, 1, 0]], [[1, 0, 0], [0, 1, 0]]], np.float32)
    region = examples_region([m0, m1], bg, (64, 64))
    expected = np.zeros((64, 64), bool)
    expected[10:20, 5:15] = True  # example 0's person, moved by -5 px into the output
    expected[40:50, 40:50] = True
    assert (region == expected).all()
    assert (examples_region([m0], None, (64, 64)) == (m0 > 0)).all()


def test_ring_row_in_the_table_needs_the_examples_region():
    truth = np.full((32, 32, 3), 50, np.uint8)
    gen = truth + 10
    masks = [_box(32, 4, 10)]
    s = score(Inputs([gen], 1, truth=[truth], masks=masks), table.rows("ring_l1"))
    assert s.missing == {"ring_l1": ["examples"]}
    s = score(Inputs([gen], 1, truth=[truth], masks=masks, examples=_box(32, 16, 28) > 0),
              table.rows("ring_l1"))
    assert s.values["ring_l1"] == pytest.approx(10 / 255)


# ---- AKD / MKR -----------------------------------------------------------------------------

def _pose(n_found=10, offset=(0.0, 0.0)):
    p = np.zeros((25, 3), np.float32)
    p[:n_found, 0] = 20 + np.arange(n_found) * 3 + offset[0]
    p[:n_found, 1] = 30 + np.arange(n_found) * 2 + offset[1]
    p[:n_found, 2] = 0.9
    return p


def test_akd_is_the_known_offset_and_mkr_counts_a_missing_joint():
    truth = [_pose(), _pose()]
    shifted = [_pose(offset=(3, 4)), _pose(offset=(3, 4))]
    res = keypoint_distance(shifted, truth, frame_height=128, reference_height=128)
    assert res.akd == pytest.approx(5.0) and res.mkr == 0.0
    assert keypoint_distance(shifted, truth, 128, 256).akd == pytest.approx(10.0)  # rescaled
    one_missing = _pose(offset=(3, 4))
    one_missing[4, 2] = 0
    res = keypoint_distance([one_missing, shifted[1]], truth, 128, 128)
    assert res.mkr == pytest.approx(1 / 20) and res.akd == pytest.approx(5.0)
    assert res.joints_compared == 19 and res.frames_compared == 2


def test_frames_with_nobody_are_skipped_and_counted_never_a_crash():
    truth = [_pose(), None, _pose(), np.zeros((25, 3), np.float32)]
    out = [_pose(offset=(0, 2)), _pose(), None, _pose()]
    res = keypoint_distance(out, truth, 128, 128)
    assert res.truth_nobody == 2  # None and an all-missing pose
    assert res.output_nobody == 1  # frame 2: all its 10 truth joints missing
    assert res.akd == pytest.approx(2.0) and res.frames_compared == 1
    assert res.mkr == pytest.approx(10 / 20)
    nobody = keypoint_distance([None], [None], 128, 128)
    assert nobody.akd is None and nobody.mkr == 0.0 and nobody.truth_nobody == 1


def test_akd_row_runs_the_same_estimator_on_output_and_truth():
    """The table row: one estimator, on the generated frames and on the truth frames."""
    frames = [np.full((16, 16, 3), v, np.uint8) for v in (10, 20)]
    truth = [np.full((16, 16, 3), v, np.uint8) for v in (11, 21)]
    poses = {10: _pose(offset=(6, 8)), 20: None, 11: _pose(), 21: _pose()}
    seen = []

    def estimate(fs):
        for f in fs:
            seen.append(int(f[0, 0, 0]))
            yield poses[int(f[0, 0, 0])]

    inputs = Inputs(frames, 2, truth=truth,
                    poses=PoseInputs([None, None], estimate, None, frame_height=16,
                                     reference_height=32))
    v = score(inputs, table.rows("akd")).values
    assert sorted(seen) == [10, 11, 20, 21]
    assert v["akd"] == pytest.approx(20.0) and v["mkr"] == pytest.approx(0.5)
    assert v["akd_output_nobody"] == 1 and v["akd_truth_nobody"] == 0


# ---- identity score ------------------------------------------------------------------------

def test_identity_is_zero_for_the_same_pixels_and_grows_with_another_colour():
    person = np.zeros((32, 32, 3), np.uint8)
    person[..., 0] = 200
    person[::2, :, 1] = 120  # two colours, half each
    mask = _box(32, 4, 28)
    ref = rgb_histogram(person, mask)
    same = appearance_distance([person, person], AppearanceInputs(ref, [mask, mask]))
    assert same["identity"] == 0.0 and same["identity_pixels"] == 2 * 24 * 24
    half = person.copy()
    half[1::2, :, 1] = 120  # all pixels one of the two colours
    other = np.full_like(person, 30)  # a colour the example never had
    d_half = appearance_distance([half], AppearanceInputs(ref, [mask]))["identity"]
    d_other = appearance_distance([other], AppearanceInputs(ref, [mask]))["identity"]
    assert 0 < d_half < d_other == pytest.approx(1.0)
    assert d_half == pytest.approx(np.sqrt(1 - np.sqrt(0.5)))  # Hellinger of (1/2,1/2),(1,0)
    # only the region counts: a different colour outside it changes nothing
    outside = person.copy()
    outside[mask == 0] = 0
    assert appearance_distance([outside], AppearanceInputs(ref, [mask]))["identity"] == 0.0
    assert hellinger(ref, np.zeros_like(ref)) is None
    with pytest.raises(ValueError):
        appearance_distance([person], AppearanceInputs(ref, [np.zeros_like(mask)]))


def test_erode_shrinks_by_the_radius():
    m = _box(32, 8, 24) > 0
    assert erode(m, 2).sum() == 12 * 12 and (erode(m, 0) == m).all()


def test_identity_row_in_the_table():
    img = np.full((8, 8, 3), 77, np.uint8)
    mask = np.full((8, 8), 255, np.uint8)
    inputs = Inputs([img], 1, appearance=AppearanceInputs(rgb_histogram(img, mask), [mask]))
    assert score(inputs, table.rows("identity")).values["identity"] == 0.0
    assert score(Inputs([img], 1), table.rows("identity")).missing == {
        "identity": ["appearance"]}


def test_evaluate_reports_akd_with_real_frames_and_a_driver(tmp_path, monkeypatch):
    """`v2v evaluate --generated --real --driver`: the AKD row reaches evaluate_video (the
    estimator on generated vs real frames); the benchmark-only rows are listed as skipped."""
    from PIL import Image

    import v2vtool.metrics.estimators as est
    from v2vtool.io.keypoints import Person, write_jsonl
    from v2vtool.metrics.evaluate import evaluate_video

    gen = [np.full((32, 32, 3), 10 * (i + 1), np.uint8) for i in range(3)]
    real = [np.full((32, 32, 3), 10 * (i + 1) + 5, np.uint8) for i in range(3)]
    for name, frames in (("gen", gen), ("real", real)):
        (tmp_path / name).mkdir()
        for i, f in enumerate(frames):
            Image.fromarray(f).save(tmp_path / name / f"{i:06d}.png")
    write_jsonl(tmp_path / "drv.jsonl", [[Person(pose=_pose())] for _ in range(3)])

    class ByColour:  # generated frames: the pose moved by (3, 4); real frames: the pose
        name, joints = "by-colour", tuple(range(25))

        def __call__(self, rgb):
            return _pose(offset=(3, 4)) if int(rgb[0, 0, 0]) % 10 == 0 else _pose()

    monkeypatch.setattr(est, "get_pose_estimator", lambda name, d=None: ByColour())
    rep = evaluate_video(tmp_path / "gen", real=tmp_path / "real", driver=tmp_path / "drv.jsonl",
                         reference_height=64)
    assert rep.metrics["akd"] == pytest.approx(10.0)  # 5 px at 32 -> 10 px at 64
    assert rep.metrics["mkr"] == 0.0 and rep.metrics["akd_frames"] == 3
    assert rep.metrics["pose_error"] == pytest.approx(10.0, abs=0.1)
    assert "benchmark" in rep.skipped["ring_l1"] and "benchmark" in rep.skipped["identity"]
    assert rep.skipped["sharpness"].startswith("needs true person masks")  # PNGs, no masks


def test_frame_box_is_the_part_of_a_view_that_shows_the_frame():
    """A crop running past the frame's left and bottom edges: only the footage is scored."""
    from v2vtool.benchmark_real import frame_box
    from v2vtool.data.augment import View

    # a 100x80 frame, crop box x -20..80, y 20..120 (100x100) at 50x50: 2 px per view px
    view = View(-20, 20, 100, 100, 50, 50)
    assert frame_box(view, (100, 80)) == (10, 0, 50, 30)
    assert frame_box(View(10, 10, 50, 50, 25, 25), (100, 80)) is None  # inside the frame
