"""The keypoint -> semantic map renderer: deterministic, resolution aware, correct channels."""
from __future__ import annotations

import numpy as np

from v2vtool.io.keypoints import Person
from v2vtool.semantics.kinds import get_kind
from v2vtool.semantics.render import render_face, render_pose
from v2vtool.semantics.segmentation import PALETTE, colorize


def _person() -> Person:
    p = Person()
    body = {0: (50, 20), 1: (50, 40), 2: (35, 40), 3: (30, 60), 4: (28, 80), 5: (65, 40),
            6: (70, 60), 7: (72, 80), 8: (50, 90), 9: (42, 90), 12: (58, 90)}
    for i, (x, y) in body.items():
        p.pose[i] = (x, y, 0.9)
    t = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    p.face[:68, 0] = 50 + 8 * np.cos(t)
    p.face[:68, 1] = 20 + 10 * np.sin(t)
    p.face[:68, 2] = 1
    return p


def test_render_pose_deterministic_and_coloured():
    frame = [_person()]
    a = render_pose(frame, (100, 120))
    b = render_pose([_person()], (100, 120))
    assert a.shape == (120, 100, 3) and a.dtype == np.uint8
    assert a.tobytes() == b.tobytes()
    assert len(np.unique(a.reshape(-1, 3), axis=0)) > 5  # several limb colours
    assert not a[110:, :].any()  # nothing below the hips (no legs given)
    assert not render_pose([], (100, 120)).any()


def test_render_pose_scale_matches_resolution():
    small = render_pose([_person()], (100, 120))
    big = render_pose([_person()], (200, 240), scale=(2.0, 2.0))
    ys, xs = np.nonzero(small.any(-1))
    yb, xb = np.nonzero(big.any(-1))
    assert abs(yb.mean() / 2 - ys.mean()) < 2 and abs(xb.mean() / 2 - xs.mean()) < 2


def test_render_face_deterministic():
    a = render_face([_person()], (100, 120))
    assert a.shape == (120, 100) and a.dtype == np.uint8
    assert a.tobytes() == get_kind("face").render([_person()], (100, 120)).tobytes()
    assert a[20, 50] == 0 and a.any()  # curves, not a filled blob
    missing = _person()
    missing.face[:, 2] = 0
    assert not render_face([missing], (100, 120)).any()


def test_semantic_to_tensor():
    pose = render_pose([_person()], (64, 64))
    t = get_kind("pose").to_tensor(pose)
    assert t.shape == (3, 64, 64) and float(t.max()) <= 1.0
    ids = np.array([[0, 1], [19, 255]], np.uint8)
    oh = get_kind("segmentation").to_tensor(ids, n_classes=20)
    assert oh.shape == (20, 2, 2) and oh[1, 0, 1] == 1 and oh[19, 1, 0] == 1
    assert oh[:, 1, 1].sum() == 0  # 255 = ignore


def test_segmentation_palette():
    ids = np.array([[0, 13], [200, 255]], np.uint8)
    view = colorize(ids)
    assert view.shape == (2, 2, 3) and tuple(view[0, 0]) == (128, 64, 128)
    assert tuple(view[1, 1]) == (0, 0, 0)
    assert len({tuple(c) for c in PALETTE[:255]}) == 255  # distinct colours per id
