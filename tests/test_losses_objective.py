"""Objective: named weighted terms, zero weights skipped, gradients to the right networks."""
from dataclasses import replace

import pytest
import torch

from v2vtool.config import DiscriminatorConfig, LossConfig
from v2vtool.losses import discriminator_losses, generator_losses
from v2vtool.models.discriminators import build_discriminators
from v2vtool.models.generator import FewShotGenerator
from tests.test_models_generator import H, W, tiny

D_CFG = DiscriminatorConfig(ndf=8, n_layers=2, n_scales=2, face=True, face_size=16)


def setup(t=3, face=True):
    torch.manual_seed(0)
    g = FewShotGenerator(tiny()).train()
    ds = build_discriminators(g.cfg, replace(D_CFG, face=face))
    b, k = 2, 2
    boxes = torch.zeros(b, t, 4)
    boxes[0] = torch.tensor([10.0, 8.0, 30.0, 28.0])  # sample 1 has no face
    batch = {"examples": torch.rand(b, k, 3, H, W) * 2 - 1, "example_semantics": torch.rand(b, k, 3, H, W),
             "images": torch.rand(b, t, 3, H, W) * 2 - 1, "semantics": torch.rand(b, t, 3, H, W),
             "flow": torch.randn(b, t, 2, H, W), "flow_conf": (torch.rand(b, t, 1, H, W) > 0.3).float(),
             "face_boxes": boxes}
    out = g(batch["examples"], batch["example_semantics"], batch["semantics"])
    return g, ds, batch, out


def test_generator_terms_and_gradients():
    g, ds, batch, out = setup()
    terms = generator_losses(out, batch, ds, LossConfig())
    assert set(terms) == {"gan", "feature_matching", "temporal_gan", "temporal_feature_matching",
                          "face_gan", "l1", "gradient", "flow", "warp", "mask"}
    assert all(v.dim() == 0 and torch.isfinite(v) for v in terms.values())
    sum(terms.values()).backward()
    assert g.weightgen.mlps[0].fc1.weight.grad.abs().sum() > 0
    assert g.flow_prev.flow_head.weight.grad.abs().sum() > 0  # flow / warp terms reach W
    assert g.attention.query_net.stem.parametrizations.weight.original.grad is not None


def test_weights_scale_terms_and_zero_weights_are_skipped():
    _, ds, batch, out = setup()
    base = generator_losses(out, batch, ds, LossConfig())
    w = LossConfig(gan=0, feature_matching=0, temporal_gan=0, face_gan=0, flow=0, mask=0, warp=0,
                   gradient=0, l1=3.0)
    terms = generator_losses(out, batch, ds, w)
    assert set(terms) == {"l1"}
    assert torch.isclose(terms["l1"], 3.0 * base["l1"] / LossConfig().l1)
    assert discriminator_losses(out, batch, ds, w) == {}


def test_discriminator_terms_train_only_discriminators():
    g, ds, batch, out = setup()
    terms = discriminator_losses(out, batch, ds, LossConfig())
    assert set(terms) == {"d_gan", "d_temporal_gan", "d_face_gan"}
    sum(terms.values()).backward()
    for d in (ds["image"], ds["temporal"].nets[0], ds["face"]):  # T = 3: temporal scale 0 only
        assert all(p.grad is not None for p in d.parameters())
    assert all(p.grad is None for p in g.parameters())


def test_single_frame_phase_has_no_temporal_terms():
    _, ds, batch, out = setup(t=1, face=False)
    batch = {k: v for k, v in batch.items() if k not in ("flow", "flow_conf")}
    terms = generator_losses(out, batch, ds, LossConfig())
    assert "temporal_gan" not in terms and "flow" not in terms and "mask" not in terms
    assert "warp" in terms  # warp_ref is still trained on the example
    assert "d_temporal_gan" not in discriminator_losses(out, batch, ds, LossConfig())


def test_missing_inputs_are_reported():
    _, ds, batch, out = setup()
    with pytest.raises(ValueError, match="flow"):
        generator_losses(out, {k: v for k, v in batch.items() if k != "flow"}, ds, LossConfig())
    with pytest.raises(ValueError, match="face_boxes"):
        discriminator_losses(out, {k: v for k, v in batch.items() if k != "face_boxes"}, ds, LossConfig())


def test_perceptual_term_only_with_vgg():
    from v2vtool.models import perceptual
    from v2vtool.models.perceptual import VGG19Features

    _, ds, batch, out = setup(t=1, face=False)
    vgg = VGG19Features({f"features.{k}": v for k, v in perceptual.build_vgg19_features().state_dict().items()})
    assert "perceptual" not in generator_losses(out, batch, ds, LossConfig())
    terms = generator_losses(out, batch, ds, LossConfig(), vgg=vgg)
    assert terms["perceptual"] > 0
    terms["perceptual"].backward()
    assert all(p.grad is None for p in vgg.parameters())


def test_face_terms_are_masked_means_over_valid_boxes():
    """Frames without a face box are masked (no boolean index, no host sync): the terms equal
    the hinge losses over the valid crops alone, and a batch without any face still gives the
    face D a (zero) gradient, so every rank all-reduces the same parameters."""
    from v2vtool.losses.gan import d_hinge_loss, g_hinge_loss
    from v2vtool.models.discriminators import crop_boxes

    _, ds, batch, out = setup()
    ds.eval()  # spectral norm: no power iteration between the calls compared here
    terms = discriminator_losses(out, batch, ds, LossConfig())
    boxes = batch["face_boxes"].flatten(0, 1)
    keep = boxes[:, 2] > 0
    real = crop_boxes(batch["images"].flatten(0, 1)[keep], boxes[keep], ds["face"].size)
    fake = crop_boxes(out.image.detach().flatten(0, 1)[keep], boxes[keep], ds["face"].size)
    w = LossConfig().face_gan
    assert torch.allclose(terms["d_face_gan"], w * d_hinge_loss(ds["face"](real), ds["face"](fake)))
    g_terms = generator_losses(out, batch, ds, LossConfig())
    assert torch.allclose(g_terms["face_gan"], w * g_hinge_loss(ds["face"](fake)), atol=1e-6)

    no_face = dict(batch, face_boxes=torch.zeros_like(batch["face_boxes"]))
    terms = discriminator_losses(out, no_face, ds, LossConfig())
    assert float(terms["d_face_gan"]) == 0.0
    terms["d_face_gan"].backward()
    grads = [p.grad for p in ds["face"].parameters()]
    assert all(g is not None and float(g.abs().sum()) == 0.0 for g in grads)
