"""FewShotGenerator with flow_prior="keypoints": the prior wiring, the per-pixel selection over
the K warped examples + background plate, and the composition (eq. 11) pinned exactly."""
from dataclasses import replace

import pytest
import torch

from v2vtool.config import GeneratorConfig
from v2vtool.models.example_warp import fill_holes
from v2vtool.models.generator import FewShotGenerator
from v2vtool.semantics.prior import pose_prior
from v2vtool.models.warp import warp

H = W = 64


def tiny(**kw) -> GeneratorConfig:
    base = dict(height=H, width=W, ngf=8, n_downsample=3, max_channels=32, n_adaptive_layers=2,
                spade_hidden=8, attention_channels=8, style_dim=8, weightgen_hidden=16,
                flow_ngf=8, flow_n_downsample=2, flow_n_blocks=1, flow_max_channels=16,
                flow_prior="keypoints")
    base.update(kw)
    return replace(GeneratorConfig(), **base)


BASE = {0: (32, 11), 1: (32, 17), 2: (26, 18), 3: (23, 25), 4: (21, 32), 5: (38, 18),
        6: (41, 25), 7: (43, 32), 8: (32, 33), 9: (28, 33), 10: (28, 43), 11: (28, 53),
        12: (36, 33), 13: (36, 43), 14: (36, 53), 15: (30, 10), 16: (34, 10), 17: (28, 11),
        18: (36, 11), 19: (38, 55), 21: (35, 54), 22: (26, 55), 24: (29, 54)}


def poses(*lead, seed=0, mirror=False) -> torch.Tensor:
    """Plausible BODY_25 poses (*lead, 25, 3) in a 64 x 64 frame: a base pose, shifted and
    jittered; mirror=True: seen from behind (x mirrored, no nose / eyes)."""
    g = torch.Generator().manual_seed(seed)
    kp = torch.zeros(25, 3)
    for j, (x, y) in BASE.items():
        kp[j] = torch.tensor([x, y, 1.0])
    kp = kp.expand(*lead, 25, 3).clone()
    found = kp[..., 2:] > 0
    shift = (torch.rand(*lead, 1, 2, generator=g) - 0.5) * 6
    kp[..., :2] += (shift + torch.randn(*lead, 25, 2, generator=g)) * found
    if mirror:
        kp[..., 0] = torch.where(kp[..., 2] > 0, W - 1 - kp[..., 0], kp[..., 0])
        kp[..., [0, 15, 16], :] = 0
    return kp


def inputs(b=2, k=2, t=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(examples=torch.rand(b, k, 3, H, W, generator=g) * 2 - 1,
                example_semantics=torch.rand(b, k, 3, H, W, generator=g),
                semantics=torch.rand(b, t, 3, H, W, generator=g),
                example_keypoints=poses(b, k, seed=seed + 1), keypoints=poses(b, t, seed=seed + 2))


def make(cfg, seed=0, train=False):
    torch.manual_seed(seed)
    return FewShotGenerator(cfg).train(train)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_shapes_and_selection(k):
    gen = make(tiny())
    inp = inputs(k=k)
    with torch.no_grad():
        out = gen(**inp)
    assert out.image.shape == (2, 3, 3, H, W) and torch.isfinite(out.image).all()
    assert out.selection.shape == (2, 3, k + 1, H, W)
    torch.testing.assert_close(out.selection.sum(2), torch.ones(2, 3, H, W))
    assert out.ref_index.shape == (2, 3) and int(out.ref_index.max()) < k
    assert torch.equal(out.ref_index, out.selection[:, :, :k].sum(dim=(3, 4)).argmax(2))
    assert gen.flow_ref is None and gen.example_warp is not None


def test_untrained_model_starts_at_the_prior():
    """Residual flow heads start at zero: the example flow is the analytic prior and the
    previous-frame flow is the prior from frame t's keypoints to frame t-1's."""
    gen = make(tiny())
    inp = inputs(b=1, k=1, t=2)
    with torch.no_grad():
        out = gen(**inp)
    kp, ex_kp = inp["keypoints"], inp["example_keypoints"]
    for t in range(2):
        pr = pose_prior(kp[:, t], ex_kp, H, W)
        torch.testing.assert_close(out.ref_flow[:, t], pr.flow[:, 0], atol=1e-4, rtol=1e-5)
    prev = pose_prior(kp[:, 1], kp[:, :1], H, W)
    torch.testing.assert_close(out.flow[:, 1], prev.flow[:, 0], atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(out.warped_prev[:, 1], warp(out.image[:, 0], prev.flow[:, 0]))
    # the example candidate of warped_ref is the example warped by the prior
    sel = out.selection[:, 0]
    state = gen.prepare(inp["examples"], inp["example_semantics"], ex_kp)
    pr0 = pose_prior(kp[:, 0], ex_kp, H, W)
    expect = sel[:, :1] * warp(inp["examples"][:, 0], pr0.flow[:, 0]) + sel[:, 1:] * state.sources.plate
    torch.testing.assert_close(out.warped_ref[:, 0], expect, atol=1e-5, rtol=1e-5)


def _force_masks(gen, ref: float, prev: float) -> None:
    """Mask heads -> constant logits: +100 gives m = 1 (use H), -100 gives m = 0 (use the warp)."""
    heads = [(gen.flow_prev.mask_head, prev)]
    ref_net = gen.example_warp.refine if gen.example_warp is not None else gen.flow_ref
    heads.append((ref_net.mask_head, ref))
    for head, value in heads:
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.constant_(head.bias, value)


@pytest.mark.parametrize("prior", ["keypoints", "none"])
def test_composition_eq11_is_pinned(prior):
    """x = (1 - m) warp(x_prev) + m h' and h' = (1 - m_e) warped_ref + m_e h: m = 1 returns H's
    frame exactly, m = 0 the warped one (catches a swapped mask / 1 - mask)."""
    gen = make(tiny(flow_prior=prior))
    inp = inputs(t=2)
    cases = ((100.0, 100.0, "raw"), (-100.0, 100.0, "warped_ref"), (100.0, -100.0, "warped_prev"),
             (-100.0, -100.0, "warped_prev"))
    for ref, prev, expect in cases:
        _force_masks(gen, ref, prev)
        with torch.no_grad():
            out = gen(**inp)
        want = getattr(out, expect)[:, 1]
        if out.confidence is not None:  # the prior keeps its trusted pixels (checked below)
            c = out.confidence[:, 1]
            want = c * out.warped_ref[:, 1] + (1 - c) * want
        torch.testing.assert_close(out.image[:, 1], want, atol=1e-6, rtol=0,
                                   msg=str((ref, prev, expect)))
    _force_masks(gen, -100.0, 100.0)
    with torch.no_grad():
        first = gen(**inp)
    torch.testing.assert_close(first.image[:, 0], first.warped_ref[:, 0], atol=1e-6,
                               rtol=0)  # no previous frame at t = 0


def test_selection_prefers_the_example_that_shows_the_visible_side():
    """Target seen from the front; example 0 from behind (its torso / head fit needs a mirror),
    example 1 from the front: on the torso the untrained model already picks example 1."""
    gen = make(tiny())
    inp = inputs(b=1, k=2, t=1)
    inp["example_keypoints"] = torch.stack([poses(1, seed=5, mirror=True)[0],
                                            poses(1, seed=6)[0]])[None]
    with torch.no_grad():
        out = gen(**inp)
    chest = out.selection[0, 0, :, 22:30, 29:35].mean(dim=(1, 2))
    assert chest[1] > 0.9 and chest[0] < 0.05
    assert int(out.ref_index[0, 0]) == 1


def test_background_comes_from_the_plate_and_the_plate_has_no_person():
    gen = make(tiny())
    inp = inputs(b=1, k=1, t=1)
    with torch.no_grad():
        out = gen(**inp)
        state = gen.prepare(inp["examples"], inp["example_semantics"], inp["example_keypoints"])
    assert out.selection[0, 0, 1, 2, 2] > 0.99  # far corner: background plate
    plate, ex = state.sources.plate[0], inp["examples"][0, 0]
    assert torch.equal(plate[:, 0, 0], ex[:, 0, 0])  # background pixels are kept
    chest = (slice(None), slice(22, 30), slice(29, 35))
    assert (plate[chest] - ex[chest]).abs().mean() > 0.1  # the person is filled in


def test_order_of_examples_after_the_first_does_not_matter():
    gen = make(tiny())
    inp = inputs(k=3, t=2)
    perm = torch.tensor([0, 2, 1])  # the first example gives the background plate: keep it
    swapped = dict(inp, examples=inp["examples"][:, perm],
                   example_semantics=inp["example_semantics"][:, perm],
                   example_keypoints=inp["example_keypoints"][:, perm])
    with torch.no_grad():
        a, b = gen(**inp), gen(**swapped)
    torch.testing.assert_close(a.image, b.image, atol=1e-5, rtol=1e-5)
    assert torch.equal(perm[b.ref_index], a.ref_index)


def test_gradients_reach_selection_refinement_and_previous_frame_nets():
    gen = make(tiny(), train=True)
    out = gen(**inputs(k=2, t=2))
    (out.image.square().mean() + out.warped_ref.mean() + out.ref_mask.mean()).backward()
    assert len(gen.blocks[-1].combine) == 1  # H sees the examples' composite (blend: prev via eq. 11)
    for module in (gen.example_warp.select, gen.example_warp.refine.flow_head,
                   gen.example_warp.refine.mask_head, gen.flow_prev.flow_head,
                   gen.flow_prev.mask_head, gen.blocks[-1].combine):
        grads = [p.grad for p in module.parameters()]
        assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0


def test_missing_keypoints_are_an_error_and_nobody_is_finite():
    gen = make(tiny())
    inp = inputs(b=1, k=1, t=1)
    with pytest.raises(ValueError, match="keypoints"):
        gen(**dict(inp, keypoints=None))
    with pytest.raises(ValueError, match="example_keypoints"):
        gen(**dict(inp, example_keypoints=None))
    with torch.no_grad():
        out = gen(**dict(inp, keypoints=torch.zeros(1, 1, 25, 3),
                         example_keypoints=torch.zeros(1, 1, 25, 3)))
    assert torch.isfinite(out.image).all()


def test_finetune_parameters_exclude_every_warping_net():
    gen = make(tiny())
    chosen = {id(p) for p in gen.finetune_parameters()}
    frozen = [*gen.flow_prev.parameters(), *gen.example_warp.parameters()]
    assert frozen and not any(id(p) in chosen for p in frozen)
    assert all(id(p) in chosen for p in gen.blocks.parameters())


def test_the_prior_applies_to_keypoint_kinds_only():
    assert tiny().keypoint_prior and tiny(kind="face").keypoint_prior
    assert not tiny(flow_prior="none").keypoint_prior
    edges = FewShotGenerator(tiny(kind="edges"))  # no keypoints: flows learned from scratch
    assert not edges.prior and edges.flow_ref is not None and edges.example_warp is None
    assert FewShotGenerator(tiny(kind="face")).example_warp is not None


def test_old_configs_without_the_field_load_as_before():
    from v2vtool.config import Config

    d = Config().to_dict()
    del d["generator"]["flow_prior"]
    assert Config.from_dict(d).generator.flow_prior == "none"
    assert Config.from_dict(Config().to_dict()).generator.flow_prior == "keypoints"


def test_fill_holes_keeps_known_pixels_and_fills_from_neighbours():
    img = torch.full((1, 3, 32, 32), 0.5)
    img[..., 10:20, 10:20] = -1.0  # the "person"
    known = torch.ones(1, 1, 32, 32)
    known[..., 10:20, 10:20] = 0
    out = fill_holes(img, known)
    torch.testing.assert_close(out, torch.full_like(img, 0.5))  # constant surround -> constant
    ramp = torch.linspace(-1, 1, 32).expand(1, 3, 32, 32).clone()
    out = fill_holes(ramp, known)
    assert torch.equal(out * known, ramp * known)
    hole = out[..., 10:20, 10:20]
    assert hole.min() >= ramp.min() and hole.max() <= ramp.max() and hole.std() > 0


def test_face_model_runs_on_the_face_prior():
    """kind face: 68 landmarks, a 1-channel sketch; the piecewise-affine prior drives the flows."""
    from v2vtool.semantics.face import face_template

    f = torch.tensor(face_template()[:68] * [1.0, -1.0] * 14 + 32, dtype=torch.float32)
    face = torch.cat([f, torch.ones(68, 1)], 1)
    moved = face.clone()
    moved[:, 0] += 3  # the target's face is 3 px further right
    gen = make(tiny(kind="face"), train=True)
    g = torch.Generator().manual_seed(0)
    out = gen(torch.rand(1, 2, 3, H, W, generator=g) * 2 - 1, torch.rand(1, 2, 1, H, W, generator=g),
              torch.rand(1, 2, 1, H, W, generator=g), example_keypoints=face.expand(1, 2, 68, 3),
              keypoints=moved.expand(1, 2, 68, 3))
    assert out.image.shape == (1, 2, 3, H, W) and torch.isfinite(out.image).all()
    assert out.selection.shape == (1, 2, 3, H, W)
    nose = (int(moved[30, 1]), int(moved[30, 0]))  # inside the face: the prior moves 3 px back
    assert float(out.ref_flow[0, 0, 0, nose[0], nose[1]].detach()) == pytest.approx(-3.0, abs=0.1)
    out.image.mean().backward()
    assert gen.example_warp.refine.flow_head.weight.grad is not None
