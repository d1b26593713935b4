"""Pure loss functions: values on known inputs, shapes, backward."""
import torch

from v2vtool.losses import (d_hinge_loss, feature_matching_loss, flow_loss, g_hinge_loss,
                            l1_loss, mask_loss, warp_loss)


def feats(value, n_scales=2):
    return [[torch.full((2, 4, 8, 8), value, requires_grad=True),
             torch.full((2, 1, 4, 4), value, requires_grad=True)] for _ in range(n_scales)]


def test_hinge_losses():
    # D: real logits 2 (past margin -> 0), fake logits -0.5 -> relu(1 - 0.5) = 0.5 per scale
    assert torch.isclose(d_hinge_loss(feats(2.0), feats(-0.5)), torch.tensor(1.0))
    assert torch.isclose(d_hinge_loss(feats(0.0), feats(0.0)), torch.tensor(4.0))
    fake = feats(0.25)
    loss = g_hinge_loss(fake)
    assert torch.isclose(loss, torch.tensor(-0.5))
    loss.backward()
    assert fake[0][-1].grad is not None and fake[0][0].grad is None


def test_feature_matching_ignores_logits_and_detaches_real():
    real, fake = feats(1.0), feats(0.5)
    loss = feature_matching_loss(real, fake)
    assert torch.isclose(loss, torch.tensor(0.5))
    loss.backward()
    assert real[0][0].grad is None and fake[0][0].grad is not None
    assert fake[0][-1].grad is None


def test_l1_weighted():
    a, b = torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4)
    b[..., :2, :] = 3
    w = torch.zeros(1, 1, 4, 4)
    w[..., 2:, :] = 1
    assert torch.isclose(l1_loss(a, b), torch.tensor(2.0))
    assert torch.isclose(l1_loss(a, b, w), torch.tensor(1.0))
    assert l1_loss(a, b, torch.zeros(1, 1, 4, 4)) == 0
    assert torch.isclose(l1_loss(a, b, w.bool()), torch.tensor(1.0))  # bool / uint8 masks work


def test_flow_warp_mask_losses():
    flow = torch.zeros(2, 2, 16, 16, requires_grad=True)
    target = torch.ones(2, 2, 16, 16)
    conf = torch.zeros(2, 1, 16, 16)
    conf[..., :8] = 1
    target[..., 8:] = 100  # unreliable region is ignored
    loss = flow_loss(flow, target, conf)
    assert torch.isclose(loss, torch.tensor(1.0))
    loss.backward()
    assert flow.grad.abs().sum() > 0
    # a real translation: the right flow gives ~zero warp loss, zero flow does not
    prev = torch.rand(1, 3, 16, 16)
    cur = torch.roll(prev, 2, dims=3)
    good = torch.zeros(1, 2, 16, 16)
    good[:, 0] = -2
    # only the 2 wrapped-around columns differ (roll vs border padding)
    assert warp_loss(prev, good, cur) < 0.3 * warp_loss(prev, torch.zeros(1, 2, 16, 16), cur)
    mask = torch.full((2, 1, 16, 16), 0.25, requires_grad=True)
    ml = mask_loss(mask, conf)
    assert torch.isclose(ml, torch.tensor(0.5))  # half 0.25 (vs 0), half 0.75 (vs 1)
    ml.backward()
    assert mask.grad is not None


def test_gradient_loss_charges_blur_and_not_a_flat_offset():
    """A blurred copy costs more than the same image shifted in brightness (which L1 charges
    more): the term is about edges."""
    import torch.nn.functional as F

    from v2vtool.losses.reconstruction import gradient_loss, l1_loss

    torch.manual_seed(0)
    real = torch.rand(1, 3, 32, 32) * 2 - 1
    blurred = F.avg_pool2d(F.pad(real, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    brighter = real + 0.6
    assert gradient_loss(real, real) == 0
    assert gradient_loss(brighter, real) < 1e-6 < gradient_loss(blurred, real)
    assert l1_loss(brighter, real) > l1_loss(blurred, real)
