"""Tests that pin the training wiring (issue 12 item 5): each fails for a one-line bug that the
rest of the suite let through in a mutation check —

* a loss weight ignored (e.g. `terms["flow"] = flow_loss(...)` without `w.flow`);
* the mask loss's target inverted (`mask` vs `confidence` instead of `1 - confidence`);
* the EMA updated the wrong way round (`lerp_(p, d)` instead of `lerp_(p, 1 - d)`);
* a sequence length that never doubles.
"""
from dataclasses import replace

import pytest
import torch
from torch import nn

from v2vtool.config import LossConfig, TrainConfig
from v2vtool.losses import generator_losses
from v2vtool.losses.flow import flow_loss, mask_loss, warp_loss
from v2vtool.losses.reconstruction import gradient_loss, l1_loss
from v2vtool.models.generator import FewShotGenerator
from v2vtool.training.ema import EMA
from v2vtool.training.schedule import seq_len
from tests.test_models_generator import H, W, tiny

NO_TERMS = LossConfig(gan=0, feature_matching=0, perceptual=0, l1=0, gradient=0, flow=0, warp=0,
                      mask=0, temporal_gan=0, face_gan=0)
WIRED = ("l1", "gradient", "flow", "warp", "mask")  # the terms that need no discriminator


@pytest.fixture(scope="module")
def forward():
    """One tiny generator forward over T = 3 frames, with flow ground truth whose confidence
    is neither all 0 nor all 1 (so the mask target's orientation matters)."""
    torch.manual_seed(0)
    g = FewShotGenerator(tiny()).train()
    b, k, t = 2, 2, 3
    batch = {"examples": torch.rand(b, k, 3, H, W) * 2 - 1,
             "example_semantics": torch.rand(b, k, 3, H, W),
             "images": torch.rand(b, t, 3, H, W) * 2 - 1,
             "semantics": torch.rand(b, t, 3, H, W),
             "flow": torch.randn(b, t, 2, H, W),
             "flow_conf": (torch.rand(b, t, 1, H, W) > 0.3).float()}
    with torch.no_grad():
        out = g(batch["examples"], batch["example_semantics"], batch["semantics"])
    return batch, out


def raw_terms(batch, out) -> dict[str, torch.Tensor]:
    """The unweighted terms, computed here from the loss functions (frames t >= 1 all have a
    previous frame at T = 3)."""
    assert bool(out.has_prev[1:].all())
    real, sel = batch["images"], slice(1, None)
    conf = batch["flow_conf"][:, sel].flatten(0, 1)
    warp = warp_loss(real[:, :-1].flatten(0, 1), out.flow[:, sel].flatten(0, 1),
                     real[:, sel].flatten(0, 1))
    if out.warped_ref is not None:
        warp = warp + l1_loss(out.warped_ref, real)
    return {"l1": l1_loss(out.image, real), "gradient": gradient_loss(out.image, real),
            "flow": flow_loss(out.flow[:, sel].flatten(0, 1),
                              batch["flow"][:, sel].flatten(0, 1), conf),
            "warp": warp,
            "mask": mask_loss(out.mask[:, sel].flatten(0, 1), conf)}


@pytest.mark.parametrize("name", WIRED)
def test_each_term_is_its_weight_times_the_raw_term(forward, name):
    batch, out = forward
    raw = raw_terms(batch, out)[name]
    assert raw > 0
    got = {}
    for weight in (1.0, 3.0):
        terms = generator_losses(out, batch, {}, replace(NO_TERMS, **{name: weight}))
        assert set(terms) == {name}  # the other terms are off (zero weight)
        got[weight] = terms[name]
    torch.testing.assert_close(got[1.0], raw)
    torch.testing.assert_close(got[3.0], 3.0 * raw)


def test_default_weights_scale_every_term(forward):
    batch, out = forward
    raw = raw_terms(batch, out)
    terms = generator_losses(out, batch, {}, LossConfig(gan=0, feature_matching=0,
                                                        temporal_gan=0, face_gan=0))
    for name in WIRED:
        torch.testing.assert_close(terms[name], getattr(LossConfig(), name) * raw[name])


@pytest.mark.parametrize("mask, confidence, expected", [
    (0.0, 1.0, 0.0),    # warping is right and the mask picks the warp: no loss
    (1.0, 1.0, 1.0),    # warping is right but the mask synthesises: full loss
    (1.0, 0.0, 0.0),    # disocclusion and the mask synthesises: no loss
    (0.0, 0.0, 1.0),    # disocclusion but the mask warps: full loss
    (0.25, 1.0, 0.25),
    (0.25, 0.0, 0.75),
])
def test_mask_loss_target_is_one_minus_confidence(mask, confidence, expected):
    m = torch.full((2, 1, 4, 4), mask)
    c = torch.full((2, 1, 4, 4), confidence)
    assert mask_loss(m, c).item() == pytest.approx(expected)


def test_mask_loss_of_mixed_confidence():
    m = torch.zeros(1, 1, 2, 2)
    c = torch.tensor([[[[1.0, 1.0], [1.0, 0.0]]]])  # one unreliable pixel, mask warps everywhere
    assert mask_loss(m, c).item() == pytest.approx(0.25)


def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))


def test_ema_first_update_follows_the_formula():
    torch.manual_seed(0)
    model = _model()
    ema = EMA(model, decay=0.999)
    start = [p.detach().clone() for p in ema.model.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
        model[1].running_mean.fill_(0.7)
    d = min(0.999, (1 + 0) / (10 + 0))  # warm-up decay after 0 updates: 0.1
    assert ema.current_decay() == pytest.approx(d)
    ema.update(model)
    for e, e0, p in zip(ema.model.parameters(), start, model.parameters()):
        torch.testing.assert_close(e, d * e0 + (1 - d) * p)
    assert torch.equal(ema.model[1].running_mean, model[1].running_mean)  # buffers copied
    assert ema.updates == 1


def test_ema_after_warm_up_uses_the_configured_decay():
    torch.manual_seed(1)
    model = _model()
    ema = EMA(model, decay=0.7)
    ema.updates = 100  # warm-up over: min(0.7, 101 / 110) = 0.7
    with torch.no_grad():
        for e in ema.model.parameters():
            e.fill_(2.0)
        for p in model.parameters():
            p.fill_(-1.0)
    ema.update(model)
    for e in ema.model.parameters():
        torch.testing.assert_close(e, torch.full_like(e, 0.7 * 2.0 + 0.3 * -1.0))


def test_sequence_length_doubles_on_schedule():
    cfg = TrainConfig(single_frame_steps=10, seq_len_start=2, seq_double_every=5, seq_len_max=8)
    expected = {0: 1, 9: 1,                 # single-frame phase
                10: 2, 14: 2,               # seq_len_start
                15: 4, 19: 4,               # first doubling
                20: 8, 24: 8,               # second doubling reaches the cap
                25: 8, 1000: 8}             # capped at seq_len_max
    assert {s: seq_len(cfg, s) for s in expected} == expected


def test_sequence_length_cap_is_not_a_power_of_two_times_start():
    cfg = TrainConfig(single_frame_steps=0, seq_len_start=3, seq_double_every=4, seq_len_max=10)
    assert [seq_len(cfg, s) for s in (0, 3, 4, 7, 8, 100)] == [3, 3, 6, 6, 10, 10]
