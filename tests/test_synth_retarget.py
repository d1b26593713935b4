"""Retargeting (semantics/retarget.py) on plain keypoints, and gap holding."""
from __future__ import annotations

import numpy as np
import pytest

from v2vtool.errors import UserError
from v2vtool.io.keypoints import Person
from v2vtool.semantics.kinds import get_kind
from v2vtool.semantics.retarget import BodyStats, FaceRetarget, PoseRetarget, bone_lengths
from v2vtool.synthesis.stream import hold_gaps

# A standing BODY_25 skeleton in "units": (x, y) offsets from the neck; y grows downwards.
SKELETON = {1: (0, 0), 0: (0, -3), 15: (-0.5, -3.3), 16: (0.5, -3.3), 2: (-2, 0), 5: (2, 0),
            3: (-2.5, 3), 6: (2.5, 3), 4: (-3, 6), 7: (3, 6), 8: (0, 7), 9: (-1, 7),
            12: (1, 7), 10: (-1, 11), 13: (1, 11), 11: (-1, 15), 14: (1, 15)}


def body(neck=(50.0, 20.0), unit=1.0, legs=1.0) -> Person:
    pose = np.zeros((25, 3), np.float32)
    for j, (x, y) in SKELETON.items():
        if j in (10, 13):
            y = 7 + 4 * legs
        if j in (11, 14):
            y = 7 + 8 * legs
        pose[j] = [neck[0] + x * unit, neck[1] + y * unit, 0.9]
    return Person(pose=pose)


def height(p: Person) -> float:
    ok = p.pose[:, 2] > 0
    return float(p.pose[ok, 1].max() - p.pose[ok, 1].min())


def test_tall_driver_mapped_to_short_target_scale_and_place():
    target = body(neck=(30, 40), unit=2.0)  # short target standing at x=30
    driver = body(neck=(100, 10), unit=5.0)  # 2.5x taller driver elsewhere
    mapper = get_kind("pose").fit_retarget([[target]], [[driver]])
    out = mapper(driver)
    assert isinstance(mapper, PoseRetarget)
    assert mapper.scale == pytest.approx(0.4, rel=1e-3)
    assert height(out) == pytest.approx(height(target), rel=1e-3)
    np.testing.assert_allclose(out.pose[1, :2], target.pose[1, :2], atol=1e-3)  # placement
    np.testing.assert_allclose(out.pose[:, :2], target.pose[:, :2], atol=1e-2)


def test_per_frame_translation_preserved_scaled():
    target = body(neck=(30, 40), unit=2.0)
    ref = body(neck=(100, 10), unit=4.0)
    mapper = get_kind("pose").fit_retarget([[target]], [[ref]])
    moved = body(neck=(120, 14), unit=4.0)  # the driver walks 20 px right, 4 down
    out = mapper(moved)
    np.testing.assert_allclose(out.pose[1, :2], target.pose[1, :2] + np.array([10, 2]),
                               atol=1e-3)  # scaled by 2/4


def test_limb_proportions_follow_the_target():
    target = body(unit=3.0, legs=0.7)  # short legs
    driver = body(unit=3.0, legs=1.3)  # long legs, same torso
    mapper = get_kind("pose").fit_retarget([[target]], [[driver]])
    out = mapper(driver)
    lt, lo = bone_lengths(target.pose), bone_lengths(out.pose)
    for bone in ((9, 10), (10, 11), (12, 13), (1, 8), (2, 3)):
        assert lo[bone] == pytest.approx(lt[bone], rel=0.02), bone


def test_missing_points_stay_missing_and_median_over_frames():
    target = body(unit=2.0)
    d = body(unit=4.0)
    d.pose[4] = 0  # right wrist missing
    out = get_kind("pose").fit_retarget([[target]], [[d], [body(unit=4.0)]])(d)
    assert out.pose[4, 2] == 0 and out.pose[4, 0] == 0
    stats = BodyStats.from_poses([body(unit=2.0).pose, body(unit=4.0).pose,
                                  body(unit=3.0).pose])
    assert stats.bones[(1, 8)] == pytest.approx(21.0)  # median torso 7 * 3


def face(centre=(64.0, 64.0), scale=1.0, mouth_open=0.0) -> Person:
    rng = np.random.default_rng(0)
    base = rng.uniform(-20, 20, (70, 2)).astype(np.float32)
    base[36:42] = [-12, -8]
    base[42:48] = [12, -8]
    base[48:60] = [0, 14]
    base[60:68, 1] += mouth_open
    f = np.zeros((70, 3), np.float32)
    f[:, :2] = np.asarray(centre) + base * scale
    f[:, 2] = 1
    return Person(face=f)


def test_face_driver_normalised_to_reference_face():
    target = face(centre=(40, 50), scale=0.5)
    ref = face(centre=(80, 70), scale=1.0)
    mapper = get_kind("face").fit_retarget([[target]], [[ref]])
    assert isinstance(mapper, FaceRetarget)
    np.testing.assert_allclose(mapper(ref).face[:, :2], target.face[:, :2], atol=1e-3)
    talking = face(centre=(80, 70), scale=1.0, mouth_open=6.0)
    out = mapper(talking).face
    # the target's face shape with the driver's expression, scaled to the target's size
    np.testing.assert_allclose(out[60:68, 1] - target.face[60:68, 1], 3.0, atol=1e-3)
    np.testing.assert_allclose(out[:60, :2], target.face[:60, :2], atol=1e-3)


def test_hold_gaps_leading_and_inner():
    good1, good2 = [body(neck=(10, 10))], [body(neck=(20, 10))]
    frames = [[], good1, [], [], good2, []]
    out = list(hold_gaps(frames, "pose"))
    assert [h for _, h in out] == [True, False, True, True, False, True]
    assert out[0][0][0].pose[1, 0] == 10 and out[3][0][0].pose[1, 0] == 10
    assert out[5][0][0].pose[1, 0] == 20
    with pytest.raises(UserError, match="no person detected"):
        list(hold_gaps([[], []], "pose"))
