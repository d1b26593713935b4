"""Keypoint prior flows (semantics/prior.py): known transforms give known flows; missing joints and
nobody give zero flow without NaN; the face prior is exact for an affine motion."""
import math

import numpy as np
import pytest
import torch

from v2vtool.semantics.kinds import get_kind
from v2vtool.semantics.prior import (POSE_PARTS, body_occupancy, face_prior, face_triangles,
                                  part_transforms, part_weights, pose_prior)
from v2vtool.models.warp import warp

H = W = 128


def _pose() -> torch.Tensor:
    """A frontal BODY_25 pose (25, 3) in a 128 x 128 frame; small toes missing."""
    xy = {0: (64, 22), 1: (64, 34), 2: (52, 35), 3: (46, 50), 4: (42, 64), 5: (76, 35),
          6: (82, 50), 7: (86, 64), 8: (64, 66), 9: (57, 66), 10: (56, 86), 11: (56, 106),
          12: (71, 66), 13: (72, 86), 14: (72, 106), 15: (61, 20), 16: (67, 20), 17: (57, 22),
          18: (71, 22), 19: (76, 110), 21: (70, 108), 22: (52, 110), 24: (58, 108)}
    kp = torch.zeros(25, 3)
    for j, (x, y) in xy.items():
        kp[j] = torch.tensor([x, y, 1.0])
    return kp


def _similar(kp: torch.Tensor, angle: float, scale: float, shift) -> tuple[torch.Tensor, torch.Tensor]:
    """kp moved by x' = s R x + t (found joints only), and that transform as (2, 3)."""
    c, s = math.cos(angle) * scale, math.sin(angle) * scale
    m = torch.tensor([[c, -s, shift[0]], [s, c, shift[1]]])
    out = kp.clone()
    ok = kp[:, 2] > 0
    out[ok, :2] = kp[ok, :2] @ m[:, :2].T + m[:, 2]
    return out, m


def test_part_transforms_recover_a_known_similarity():
    tgt = _pose()
    src, m = _similar(tgt, 0.3, 1.2, (5.0, -3.0))
    mat, valid, refl, res = part_transforms(tgt[None], src[None, None])
    assert mat.shape == (1, 1, len(POSE_PARTS), 2, 3)
    assert valid.all() and not refl.any()
    torch.testing.assert_close(mat[0, 0], m.expand(len(POSE_PARTS), 2, 3), atol=1e-4, rtol=1e-4)
    assert res.abs().max() < 1e-6


def test_pose_prior_gives_the_known_flow_on_the_body_and_zero_far_away():
    tgt = _pose()
    src, m = _similar(tgt, -0.2, 0.9, (3.0, 4.0))
    pr = pose_prior(tgt[None], src[None, None], H, W, stride=1)
    assert pr.flow.shape == (1, 1, 2, H, W) and pr.occupancy.shape == (1, 1, H, W)
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float32),
                            torch.arange(W, dtype=torch.float32), indexing="ij")
    expect = torch.stack([m[0, 0] * xs + m[0, 1] * ys + m[0, 2] - xs,
                          m[1, 0] * xs + m[1, 1] * ys + m[1, 2] - ys])
    occ = pr.occupancy[0, 0]
    # every part moves the same way, so flow = occupancy x the transform's displacement
    torch.testing.assert_close(pr.flow[0, 0], expect * occ, atol=1e-3, rtol=1e-3)
    assert occ[50, 64] > 0.95 and occ[5, 5] < 1e-3  # chest vs the top-left corner
    assert pr.flow[0, 0, :, 5, 5].abs().max() < 1e-2


def test_occlusion_order_puts_the_forearm_over_the_torso():
    tgt = _pose()
    tgt[4, :2] = torch.tensor([60.0, 48.0])  # right wrist folded onto the chest
    w = part_weights(tgt[None], H, W)
    names = [p[0] for p in POSE_PARTS]
    x, y = 56, 49  # on the forearm bone, inside the torso
    assert w[0, :, y, x].argmax() == names.index("r_forearm")
    assert w[0, :, 50, 70].argmax() == names.index("torso")
    torch.testing.assert_close(w.sum(1), torch.ones(1, H, W))


def test_a_part_missing_in_the_source_gets_zero_flow_and_no_nan():
    tgt = _pose()
    src, _ = _similar(tgt, 0.0, 1.0, (10.0, 0.0))
    src[4] = 0  # the source's right wrist is not found: right forearm has no transform
    pr = pose_prior(tgt[None], src[None, None], H, W, stride=1)
    assert torch.isfinite(pr.flow).all()
    x, y = 42, 62  # near the target's right wrist (forearm only)
    assert abs(float(pr.flow[0, 0, 0, y, x])) < 1.0  # identity there, not the 10 px shift
    assert float(pr.flow[0, 0, 0, 50, 64]) == pytest.approx(10.0, rel=0.05)  # chest moves
    assert pr.cues[0, 0, 2, y // 2, x // 2] > 0.9  # "part missing" cue (half resolution)


def test_nobody_in_the_target_or_the_source_is_a_zero_flow():
    tgt = _pose()
    empty = torch.zeros(25, 3)
    for t, s in ((empty, tgt), (tgt, empty), (empty, empty)):
        pr = pose_prior(t[None], s[None, None], H, W)
        assert torch.isfinite(pr.flow).all() and torch.isfinite(pr.cues).all()
        assert pr.flow.abs().max() < 1e-5
    assert pose_prior(empty[None], tgt[None, None], H, W).occupancy.max() < 1e-6


def test_a_back_view_source_is_fitted_with_a_reflection():
    tgt = _pose()
    back = tgt.clone()
    back[:, 0] = torch.where(back[:, 2] > 0, 127 - back[:, 0], back[:, 0])  # mirrored joints
    back[[0, 15, 16]] = 0  # no nose / eyes from behind
    _, valid, refl, _ = part_transforms(tgt[None], back[None, None])
    names = [p[0] for p in POSE_PARTS]
    assert refl[0, 0, names.index("torso")] and refl[0, 0, names.index("head")]
    assert not refl[0, 0, names.index("r_thigh")]  # two-joint parts never reflect
    assert valid[0, 0].all()


def test_stride_two_is_close_to_the_exact_prior_and_batches_match_single_items():
    tgt = _pose()
    srcs = torch.stack([_similar(tgt, a, 1.0, (2.0, 1.0))[0] for a in (0.1, -0.25)])
    exact = pose_prior(tgt[None], srcs[None], H, W, stride=1)
    fast = pose_prior(tgt[None], srcs[None], H, W, stride=2)
    # inside a part the field is affine, which the block-centre grid + bilinear upsampling
    # reproduces; part boundaries are blurred by about a pixel
    inner = (exact.occupancy[0, 0] > 0.999) & (fast.occupancy[0, 0] > 0.999)
    err = (fast.flow - exact.flow).abs()[0, :, :, inner]
    assert inner.sum() > 300 and err.median() < 1e-3
    assert err.mean() < 0.1
    one = pose_prior(tgt[None], srcs[None, 1:], H, W)
    torch.testing.assert_close(fast.flow[:, 1:], one.flow)
    two = pose_prior(torch.stack([tgt, tgt]), torch.stack([srcs, srcs.flip(0)]), H, W)
    torch.testing.assert_close(two.flow[1, 0], fast.flow[0, 1])


def test_warping_a_moved_image_with_the_prior_recovers_the_target_on_the_body():
    """The analytic warp: an image whose content moved by a similarity, warped back with the
    prior computed from the moved keypoints, matches the original inside the body."""
    tgt = _pose()
    src, m = _similar(tgt, 0.15, 1.1, (4.0, -2.0))
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float32),
                            torch.arange(W, dtype=torch.float32), indexing="ij")
    pattern = lambda x, y: torch.sin(x / 5) * torch.cos(y / 7)  # noqa: E731
    target_img = pattern(xs, ys)[None, None]
    # the source shows the same pattern carried by m: source(m p) = target(p)
    inv = torch.linalg.inv(torch.cat([m, torch.tensor([[0.0, 0, 1]])]))
    sx = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
    sy = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
    source_img = pattern(sx, sy)[None, None]
    pr = pose_prior(tgt[None], src[None, None], H, W, stride=1)
    out = warp(source_img, pr.flow[:, 0])
    sy_ = ys + pr.flow[0, 0, 1]
    sx_ = xs + pr.flow[0, 0, 0]
    inside = (sx_ >= 0) & (sx_ <= W - 1) & (sy_ >= 0) & (sy_ <= H - 1)  # no border clamping
    body = (pr.occupancy[0, 0] > 0.99) & inside
    assert body.sum() > 500
    assert (out - target_img)[0, 0][body].abs().max() < 0.02


def test_body_occupancy_covers_the_joints():
    occ = body_occupancy(_pose()[None], H, W)
    assert occ.shape == (1, 1, H, W)
    assert occ[0, 0, 50, 64] > 0.9 and occ[0, 0, 100, 56] > 0.9 and occ[0, 0, 5, 120] < 0.01


# ------------------------------------------------------------------------------------- face
def _face() -> torch.Tensor:
    """68 + 2 landmarks (70, 3) of a face in a 128 x 128 frame (from the synth face template)."""
    from v2vtool.semantics.face import face_template

    f = face_template() * np.array([1.0, -1.0])
    f = (f - f.mean(0)) * 30 + 64
    return torch.cat([torch.tensor(f, dtype=torch.float32), torch.ones(70, 1)], 1)


def test_face_triangulation_is_fixed_and_covers_the_frame():
    tris = face_triangles()
    assert tris.shape == (142, 3) and tris.min() == 0 and tris.max() == 75
    np.testing.assert_array_equal(tris, face_triangles())


def test_face_prior_is_exact_for_an_affine_motion_inside_the_face_and_zero_at_the_border():
    tgt = _face()
    a = torch.tensor([[1.05, 0.1, -3.0], [-0.08, 0.95, 2.0]])
    src = tgt.clone()
    src[:, :2] = tgt[:, :2] @ a[:, :2].T + a[:, 2]
    pr = face_prior(tgt[None], src[None, None], H, W, stride=1)
    inside = pr.occupancy[0, 0] > 0.5
    assert inside.sum() > 600
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float32),
                            torch.arange(W, dtype=torch.float32), indexing="ij")
    dx = a[0, 0] * xs + a[0, 1] * ys + a[0, 2] - xs
    dy = a[1, 0] * xs + a[1, 1] * ys + a[1, 2] - ys
    assert (pr.flow[0, 0, 0][inside] - dx[inside]).abs().max() < 1e-3
    assert (pr.flow[0, 0, 1][inside] - dy[inside]).abs().max() < 1e-3
    assert pr.flow[0, 0, :, 0, 0].abs().max() < 1e-4  # frame corner stays put
    assert torch.isfinite(pr.flow).all()


def test_face_prior_with_missing_landmarks_is_zero():
    tgt = _face()
    src = tgt.clone()
    src[:, 0] += 5
    src[30] = 0
    pr = get_kind("face").prior(tgt[None], src[None, None], H, W)  # through the kind registry
    assert pr.flow.abs().max() == 0 and pr.cues[0, 0, 2].min() == 1


def test_background_transform_moves_the_scene_and_not_the_body():
    tgt = _pose()
    src, m = _similar(tgt, 0.0, 1.0, (6.0, 0.0))  # the person moved 6 px right in the source
    shift = torch.tensor([[[1.25, 0.0, -3.0], [0.0, 1.25, 2.0]]])  # the scene: zoomed + moved
    pr = pose_prior(tgt[None], src[None, None], H, W, stride=1, background=shift[:, None])
    x, y = 5, 5  # far corner: the background transform
    assert float(pr.flow[0, 0, 0, y, x]) == pytest.approx(1.25 * x - 3.0 - x, abs=1e-3)
    assert float(pr.flow[0, 0, 1, y, x]) == pytest.approx(1.25 * y + 2.0 - y, abs=1e-3)
    assert float(pr.flow[0, 0, 0, 50, 64]) == pytest.approx(6.0, abs=0.05)  # chest: the body
    nobody = pose_prior(torch.zeros(1, 25, 3), src[None, None], H, W, stride=1,
                        background=shift[:, None])
    from v2vtool.semantics.prior import affine_flow
    torch.testing.assert_close(nobody.flow[:, 0], affine_flow(shift, H, W), atol=1e-4, rtol=1e-4)


def test_face_border_follows_the_background_transform():
    tgt = _face()
    shift = torch.tensor([[[1.0, 0.0, 4.0], [0.0, 1.0, -2.0]]])
    pr = face_prior(tgt[None], tgt[None, None], H, W, stride=1, background=shift[:, None])
    torch.testing.assert_close(pr.flow[0, 0, :, 0, 0], torch.tensor([4.0, -2.0]), atol=1e-3, rtol=0)
    inside = pr.occupancy[0, 0] > 0.5
    assert pr.flow[0, 0, :, inside].abs().max() < 1e-3  # the face itself did not move


def test_prior_is_fp32_under_bf16_autocast():
    """Synthesis runs under bf16 autocast: the prior (pixel coordinates) must not."""
    tgt = _pose()
    src, _ = _similar(tgt, 0.2, 1.1, (40.0, -20.0))
    ref = pose_prior(tgt[None], src[None, None], H, W)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = pose_prior(tgt[None], src[None, None], H, W)
    assert got.flow.dtype == torch.float32
    torch.testing.assert_close(got.flow, ref.flow)
