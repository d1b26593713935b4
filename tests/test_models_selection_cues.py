"""The per-pixel selection's fixed cues and the prior's confidence (models/example_warp.py), with
known answers: each test fails when a cue is inverted or dropped (a mutation check found that
nothing failed before)."""
import torch

from v2vtool.models.example_warp import (EXAMPLE_TEMPERATURE, GHOST_LOGIT, MISSING_LOGIT,
                                         OCCUPANCY_LOGIT, REFLECTED_LOGIT, prior_logits,
                                         selection_weights, source_trust)
from v2vtool.semantics.prior import POSE_CUES

H = W = 8


def maps(occ=1.0, person=(1.0, 1.0), cues=((0, 0, 0), (0, 0, 0))):
    """Uniform half-resolution maps: the target's body, K = len(person) examples' warped
    silhouettes and cues (reflected, residual, missing)."""
    k = len(person)
    o = torch.full((1, 1, H, W), float(occ))
    p = torch.stack([torch.full((1, H, W), float(v)) for v in person])[None]  # (1, K, 1, H, W)
    c = torch.tensor(cues[:k], dtype=torch.float32)[None, :, :, None, None].expand(1, k, POSE_CUES, H, W)
    return o, c, p


def selection(occ, person, cues):
    return torch.softmax(prior_logits(*maps(occ, person, cues)), dim=1)[0, :, 0, 0]


def test_an_example_missing_the_part_never_wins_over_one_that_has_it():
    for order in (((0, 0, 1), (0, 0, 0)), ((0, 0, 0), (0, 0, 1))):
        sel = selection(1.0, (1.0, 1.0), order)
        missing, present = (0, 1) if order[0][2] else (1, 0)
        assert sel[present] > 0.9 and sel[missing] < 0.05
    logits = prior_logits(*maps(1.0, (1.0, 1.0), ((0, 0, 1), (0, 0, 0))))[0, :, 0, 0]
    torch.testing.assert_close(logits[1] - logits[0], torch.tensor(MISSING_LOGIT))


def test_an_example_fitted_with_a_mirror_loses_to_one_fitted_without():
    sel = selection(1.0, (1.0, 1.0), ((1, 0, 0), (0, 0, 0)))
    assert sel[1] > 0.9
    logits = prior_logits(*maps(1.0, (1.0, 1.0), ((1, 0, 0), (0, 0, 0))))[0, :, 0, 0]
    torch.testing.assert_close(logits[1] - logits[0], torch.tensor(REFLECTED_LOGIT))


def test_an_examples_own_person_on_the_targets_background_is_penalised():
    """Off the target's body (occupancy 0), an example whose warped silhouette is there (its own
    person: a ghost) gets GHOST_LOGIT less than one that shows scene, and the plate wins."""
    logits = prior_logits(*maps(0.0, (1.0, 0.0)))[0, :, 0, 0]
    torch.testing.assert_close(logits[1] - logits[0], torch.tensor(GHOST_LOGIT))
    sel = torch.softmax(logits, 0)
    assert sel[2] > 0.95 and sel[0] < 1e-3  # the plate, never the ghost


def test_on_the_body_an_example_that_shows_its_person_wins_over_the_plate():
    sel = selection(1.0, (1.0,), ((0, 0, 0),))
    assert sel[0] > 0.95
    # where a body part's capsule carries the example's background (no silhouette there), the
    # scene at the target's place (plate) is shown instead: no halo around re-posed limbs
    sel = selection(1.0, (0.0,), ((0, 0, 0),))
    assert sel[1] > 0.95
    logits = prior_logits(*maps(1.0, (1.0,)))[0, :, 0, 0]
    torch.testing.assert_close(logits[0] - logits[1], torch.tensor(2 * OCCUPANCY_LOGIT * 0.5))


def trust(occ, person, cues, sel, known=1.0):
    o, c, p = maps(occ, person, cues)
    s = torch.tensor(sel, dtype=torch.float32)[None, :, None, None].expand(1, len(sel), H, W)
    return float(source_trust(s, c, torch.full((1, 1, H, W), float(known)), o, p)[0, 0, 0, 0])


def test_confidence_trusts_good_parts_and_seen_scene_only():
    assert trust(1.0, (1.0,), ((0, 0, 0),), (1.0, 0.0)) == 1.0  # a present, well-fitted part
    assert trust(1.0, (1.0,), ((1, 0, 0),), (1.0, 0.0)) == 0.0  # mirrored: the other side
    assert trust(1.0, (1.0,), ((0, 0, 1),), (1.0, 0.0)) == 0.0  # part missing in the example
    assert abs(trust(1.0, (1.0,), ((0, 0.5, 0),), (1.0, 0.0)) - 0.5) < 1e-6  # poor fit
    assert trust(0.0, (1.0,), ((0, 0, 0),), (1.0, 0.0)) == 0.0  # a ghost
    assert trust(0.0, (0.0,), ((0, 0, 0),), (0.0, 1.0), known=1.0) == 1.0  # seen scene
    assert trust(1.0, (0.0,), ((0, 0, 0),), (0.0, 1.0), known=0.0) == 0.0  # inpainted, on body
    assert trust(0.0, (0.0,), ((0, 0, 0),), (0.0, 1.0), known=0.0) == 1.0  # inpainted, far off


def test_the_image_keeps_the_composite_where_the_prior_is_confident():
    """StepOutput.image = c * warped_ref + (1 - c) * (the learned composition): with H's
    mask forced to 1 (use H everywhere), trusted pixels still equal the warped composite."""
    from tests.test_models_generator_prior import _force_masks, inputs, make, tiny

    gen = make(tiny())
    _force_masks(gen, 100.0, 100.0)
    with torch.no_grad():
        out = gen(**inputs(b=1, k=1, t=1))
    c = out.confidence[:, 0]
    assert c.max() > 0.99 and c.min() < 0.1  # both kinds of pixel exist in this scene
    sure = c > 0.999
    assert torch.allclose(out.image[:, 0][sure.expand_as(out.image[:, 0])],
                          out.warped_ref[:, 0][sure.expand_as(out.image[:, 0])], atol=1e-3)
    unsure = c == c.min()
    want = c * out.warped_ref[:, 0] + (1 - c) * out.raw[:, 0]
    assert torch.allclose(out.image[:, 0][unsure.expand_as(out.image[:, 0])],
                          want[unsure.expand_as(out.image[:, 0])], atol=1e-4)
    assert (out.image[:, 0] - out.warped_ref[:, 0]).abs()[unsure.expand_as(out.image[:, 0])
                                                           ].mean() > 0.05


def test_the_plates_inpainted_fill_is_trusted_away_from_the_body_only():
    """Away from the target's body the inpainter's fill stays (the learned layers painted a
    ghost of the example's person there); next to the body it is the learned layers' to mend."""
    from v2vtool.models.example_warp import NEAR_BODY

    h = w = 64
    occ = torch.zeros(1, 1, h, w)
    occ[..., 20:44, 28:36] = 1.0  # the target's body
    sel = torch.zeros(1, 2, h, w)
    sel[:, 1] = 1.0  # the plate everywhere
    cues = torch.zeros(1, 1, POSE_CUES, h, w)
    person = torch.zeros(1, 1, 1, h, w)
    inpainted = torch.zeros(1, 1, h, w)  # nothing seen: all filled in
    c = source_trust(sel, cues, inpainted, occ, person)[0, 0]
    band = max(1, round(NEAR_BODY * h))
    assert c[5, 5] == 1.0 and c[30, 36 + band + 2] == 1.0  # far from the body
    assert c[30, 36] == 0.0 and c[30, 28 - band] == 0.0  # at / next to the body
    seen = torch.ones(1, 1, h, w)
    assert float(source_trust(sel, cues, seen, occ, person)[0, 0].min()) == 1.0


def test_the_residual_flow_acts_only_where_the_prior_is_unsure():
    """The example's residual flow dw is scaled by (1 - confidence): with a constant residual
    forced into the refinement head, the composed flow of the chosen example is the prior's
    own where the prior is sure, and moved where it is not."""
    from tests.test_models_generator_prior import inputs, make, tiny
    from v2vtool.semantics.prior import pose_prior

    gen = make(tiny())
    head = gen.example_warp.refine.flow_head
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.constant_(head.bias, 0.1)  # x flow_scale 20: 2 px everywhere
    inp = inputs(b=1, k=1, t=1)
    with torch.no_grad():
        out = gen(**inp)
    c = out.confidence[0, 0, 0]
    prior = pose_prior(inp["keypoints"][:, 0], inp["example_keypoints"], 64, 64).flow[0, 0]
    moved = (out.ref_flow[0, 0] - prior).abs().amax(0)
    assert moved[c > 0.999].max() < 0.01  # (residual 2 px; (1 - c) < 0.001)
    unsure = c < 0.5
    assert unsure.any() and moved[unsure].mean() > 0.5


def test_select_goes_to_one_example_and_keeps_the_plates_share():
    """`selection_weights`: the plate's share is the plain softmax's; the examples' share goes
    mostly to the better-scored example (averaging two warps that never line up blurred the
    person); at K = 1 it is the plain softmax; equal examples still split evenly."""
    logits = torch.tensor([2.0, 1.5, 0.0]).view(1, 3, 1, 1)  # example 0 a little ahead, plate
    plain = torch.softmax(logits, 1)
    sel = selection_weights(logits, 2)
    assert torch.allclose(sel.sum(1), torch.ones(1, 1, 1))
    assert torch.allclose(sel[:, 2], plain[:, 2])  # the plate's share unchanged
    examples = plain[:, :2].sum()
    assert EXAMPLE_TEMPERATURE < 1 and sel[0, 0] > 0.99 * examples  # plain: 62 % of it
    assert plain[0, 0] < 0.65 * examples
    one = logits[:, [0, 2]]
    assert torch.allclose(selection_weights(one, 1), torch.softmax(one, 1))
    tie = selection_weights(torch.tensor([1.0, 1.0, 0.0]).view(1, 3, 1, 1), 2)
    assert torch.allclose(tie[0, 0], tie[0, 1])
