"""FewShotGenerator: shapes, attention, caching, gradients, baselines (tiny 64 px configs).

These tests run the learned-flow path (flow_prior="none"); the keypoint-prior path has its own
file, test_models_generator_prior.py."""
from dataclasses import replace

import pytest
import torch

from v2vtool.config import GeneratorConfig, preset
from v2vtool.errors import UserError
from v2vtool.models.contract import SequenceOutput, StepOutput
from v2vtool.models.generator import FewShotGenerator

H = W = 64


def tiny(**kw) -> GeneratorConfig:
    base = dict(height=H, width=W, ngf=8, n_downsample=3, max_channels=32, n_adaptive_layers=2,
                spade_hidden=8, attention_channels=8, style_dim=8, weightgen_hidden=16,
                flow_ngf=8, flow_n_downsample=2, flow_n_blocks=1, flow_max_channels=16,
                flow_prior="none", attention_downsample=2)
    base.update(kw)
    return replace(GeneratorConfig(), **base)


def inputs(b=2, k=2, t=3, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(b, k, 3, H, W, generator=g) * 2 - 1, torch.rand(b, k, c, H, W, generator=g),
            torch.rand(b, t, c, H, W, generator=g))


def make(cfg, seed=0, train=False):
    torch.manual_seed(seed)
    return FewShotGenerator(cfg).train(train)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_shapes_for_k_examples_and_t_frames(k):
    gen = make(tiny())
    ex, es, sem = inputs(k=k, t=3)
    with torch.no_grad():
        out = gen(ex, es, sem)
    assert isinstance(out, SequenceOutput)
    assert out.image.shape == (2, 3, 3, H, W) and out.raw.shape == (2, 3, 3, H, W)
    assert out.image.min() >= -1 and out.image.max() <= 1
    assert out.flow.shape == (2, 3, 2, H, W) and out.mask.shape == (2, 3, 1, H, W)
    assert out.has_prev.tolist() == [False, True, True]
    assert torch.all(out.flow[:, 0] == 0) and torch.all(out.mask[:, 0] == 1)
    assert out.warped_ref.shape == (2, 3, 3, H, W) and out.ref_mask.shape == (2, 3, 1, H, W)
    assert out.ref_index.shape == (2, 3) and out.ref_index.dtype == torch.long
    assert int(out.ref_index.max()) < k
    if k == 1:
        assert out.attention is None
    else:
        assert out.attention.shape == (2, 3, k, H // 4, W // 4)
        assert torch.allclose(out.attention.sum(dim=2), torch.ones(2, 3, H // 4, W // 4), atol=1e-5)
        assert torch.equal(out.ref_index, out.attention.sum(dim=(3, 4)).argmax(dim=2))


def test_step_without_previous_frame_has_no_temporal_outputs():
    gen = make(tiny(warp_ref=False)).eval()
    ex, es, sem = inputs()
    with torch.no_grad():
        out = gen.step(gen.prepare(ex, es), sem[:, 0])
    assert isinstance(out, StepOutput)
    assert out.flow is None and out.mask is None and out.warped_prev is None
    assert out.ref_flow is None and out.warped_ref is None
    assert torch.equal(out.image, out.raw)


def test_output_invariant_to_example_order():
    gen = make(tiny()).eval()
    ex, es, sem = inputs(k=3)
    perm = torch.tensor([2, 0, 1])
    with torch.no_grad():
        a = gen(ex, es, sem)
        b = gen(ex[:, perm], es[:, perm], sem)
    assert torch.allclose(a.image, b.image, atol=1e-5)
    assert torch.allclose(a.attention[:, :, perm], b.attention, atol=1e-5)
    assert torch.equal(perm[b.ref_index], a.ref_index)


def test_prepare_once_equals_recomputing_per_frame():
    gen = make(tiny()).eval()
    ex, es, sem = inputs(k=2, t=4)
    with torch.no_grad():
        seq = gen(ex, es, sem)
        prev_i = prev_s = None
        for t in range(sem.shape[1]):
            out = gen.step(gen.prepare(ex, es), sem[:, t], prev_i, prev_s)
            assert torch.allclose(out.image, seq.image[:, t], atol=1e-5)
            prev_i, prev_s = out.image[:, None], sem[:, t:t + 1]
        # the cached appearance (K = 1) is reused unchanged
        state = gen.prepare(ex[:, :1], es[:, :1])
        w0 = [d["theta_gb"].clone() for d in state.appearance.weights]
        for t in range(3):
            gen.step(state, sem[:, t])
        assert all(torch.equal(a, d["theta_gb"]) for a, d in zip(w0, state.appearance.weights))


def test_batch_is_processed_without_mixing_samples():
    gen = make(tiny()).eval()
    ex, es, sem = inputs(b=3, k=2, t=2)
    with torch.no_grad():
        full = gen(ex, es, sem)
        for i in range(3):
            one = gen(ex[i:i + 1], es[i:i + 1], sem[i:i + 1])
            assert torch.allclose(one.image, full.image[i:i + 1], atol=1e-5)


def test_gradients_reach_generated_weights_attention_and_flow_nets():
    gen = make(tiny(), train=True)
    ex, es, sem = inputs(k=2, t=2)
    out = gen(ex, es, sem)
    (out.image.square().mean() + out.raw.square().mean() + out.warped_ref.mean()).backward()
    def grad_norm(module):
        grads = [p.grad for p in module.parameters()]
        assert all(g is not None for g in grads), module
        return sum(float(g.abs().sum()) for g in grads)
    assert len(gen.weightgen.mlps) == 2
    for mlp in gen.weightgen.mlps:
        assert grad_norm(mlp.fc0) > 0 and grad_norm(mlp.fc1) > 0
        # every generated tensor (theta_S, its bias, theta_gamma/beta, their bias) gets gradient
        rows = torch.split(mlp.fc1.weight.grad, mlp.sizes, dim=0)
        assert len(rows) == 4 and all(r.abs().sum() > 0 for r in rows), list(mlp.shapes)
    assert grad_norm(gen.attention.key_net) > 0 and grad_norm(gen.attention.query_net) > 0
    assert grad_norm(gen.encoder) > 0
    assert grad_norm(gen.flow_prev.mask_head) > 0 and grad_norm(gen.flow_prev.flow_head) > 0
    assert grad_norm(gen.flow_ref.mask_head) > 0 and grad_norm(gen.flow_ref.flow_head) > 0
    for block in gen.blocks:
        assert grad_norm(block.conv0) > 0


def test_different_examples_give_different_weights_and_outputs():
    gen = make(tiny()).eval()
    ex, es, sem = inputs(k=1, seed=0)
    ex2, es2, _ = inputs(k=1, seed=1)
    with torch.no_grad():
        s1, s2 = gen.prepare(ex, es), gen.prepare(ex2, es2)
        for d1, d2 in zip(s1.appearance.weights, s2.appearance.weights):
            for name in d1:
                assert not torch.allclose(d1[name], d2[name])
        # within a batch, samples with different examples get different kernels too
        assert not torch.allclose(s1.appearance.weights[0]["theta_S"][0],
                                  s1.appearance.weights[0]["theta_S"][1])
        o1 = gen.step(s1, sem[:, 0])
        o2 = gen.step(s2, sem[:, 0])
    assert (o1.image - o2.image).abs().mean() > 1e-4


@pytest.mark.parametrize("appearance", ["weightgen", "encoder", "concat", "adain"])
@pytest.mark.parametrize("aggregation", ["attention", "average"])
def test_baseline_switches_build_and_run(appearance, aggregation):
    gen = make(tiny(appearance=appearance, aggregation=aggregation), train=True)
    ex, es, sem = inputs(k=2, t=2)
    out = gen(ex, es, sem)
    assert out.image.shape == (2, 2, 3, H, W)
    assert (out.attention is not None) == (aggregation == "attention")
    assert (gen.weightgen is not None) == (appearance == "weightgen")
    out.image.mean().backward()
    assert all(p.grad is not None for p in gen.encoder.parameters())


@pytest.mark.parametrize("warp_ref", [True, False])
def test_spade_combine_composition(warp_ref):
    gen = make(tiny(composition="spade_combine", warp_ref=warp_ref), train=True)
    ex, es, sem = inputs(k=2, t=2)
    out = gen(ex, es, sem)
    assert torch.equal(out.image, out.raw)  # warps enter H as SPADE modulation, not blending
    assert out.mask.shape == (2, 2, 1, H, W)
    out.image.mean().backward()
    finest = gen.blocks[-1]
    assert len(finest.combine) == 1 + int(warp_ref)
    assert all(p.grad is not None for p in finest.combine.parameters())


def test_more_previous_frames_and_given_prev_images():
    gen = make(tiny(n_prev_frames=2)).eval()
    ex, es, sem = inputs(k=2, t=3)
    prev = torch.rand(2, 1, 3, H, W) * 2 - 1
    with torch.no_grad():
        out = gen(ex, es, sem, prev_images=prev, prev_semantics=sem[:, :1])
    assert out.has_prev.all()
    assert out.image.shape == (2, 3, 3, H, W)


def test_bad_config_and_inputs_are_rejected():
    with pytest.raises(UserError):
        FewShotGenerator(tiny(appearance="nope"))
    with pytest.raises(UserError):
        FewShotGenerator(tiny(height=60))
    gen = make(tiny())
    ex, es, sem = inputs()
    with pytest.raises(ValueError):
        gen.prepare(ex[..., :32], es)


def test_tiny_preset_k4_prepare_and_16_steps():
    cfg = replace(preset("tiny").generator, flow_prior="none")
    gen = make(cfg).eval()
    g = torch.Generator().manual_seed(0)
    ex = torch.rand(1, 4, 3, cfg.height, cfg.width, generator=g) * 2 - 1
    es = torch.rand(1, 4, cfg.semantic_nc, cfg.height, cfg.width, generator=g)
    with torch.no_grad():
        state = gen.prepare(ex, es)
        prev_i = prev_s = None
        for _ in range(16):
            s = torch.rand(1, cfg.semantic_nc, cfg.height, cfg.width, generator=g)
            out = gen.step(state, s, prev_i, prev_s)
            prev_i, prev_s = out.image[:, None], s[:, None]
    assert out.image.shape == (1, 3, cfg.height, cfg.width)
    assert out.attention.shape[1] == 4 and torch.isfinite(out.image).all()


def test_checkpoint_roundtrip(tmp_path):
    from v2vtool.config import Config
    from v2vtool.models.checkpoint import load_generator, save_generator

    cfg = replace(Config(), generator=tiny())
    gen = make(cfg.generator).eval()
    save_generator(tmp_path / "ckpt", cfg, gen)
    loaded = load_generator(tmp_path / "ckpt")
    ex, es, sem = inputs(b=1, t=2)
    with torch.no_grad():
        a, b = gen(ex, es, sem), loaded.generator(ex, es, sem)
    assert torch.allclose(a.image, b.image, atol=1e-6)


def test_finetune_parameters_exclude_flow_nets():
    gen = make(tiny())
    chosen = {id(p) for p in gen.finetune_parameters()}
    assert not any(id(p) in chosen for p in gen.flow_prev.parameters())
    assert not any(id(p) in chosen for p in gen.flow_ref.parameters())
    assert all(id(p) in chosen for m in (gen.encoder, gen.attention, gen.weightgen, gen.blocks)
               for p in m.parameters())


def test_generator_fits_a_sample():
    """A few Adam steps on L1 reduce the error a lot: the whole F is trainable end to end."""
    import torch.nn.functional as F

    gen = make(tiny(warp_ref=False), train=True)
    ex, es, sem = inputs(b=2, k=1, t=1)
    sem = F.avg_pool2d(sem.flatten(0, 1), 5, 1, 2).unflatten(0, (2, 1))
    real = ((sem * 2 - 1)[:, :, [2, 0, 1]] + ex.mean(dim=(1, 3, 4))[:, None, :, None, None]).clamp(-1, 1)
    opt = torch.optim.Adam(gen.parameters(), 1e-3, betas=(0.0, 0.999))
    losses = []
    for _ in range(40):
        loss = F.l1_loss(gen(ex, es, sem).image, real)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
