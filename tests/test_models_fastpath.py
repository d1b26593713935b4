"""The generator's fast path (models/fastpath.py and the layers it relies on), on CPU."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils import parametrize

from v2vtool.config import apply_overrides, preset
from v2vtool.errors import UserError
from v2vtool.models.fastpath import (FastPath, fast_path, inductor_cache_dir,
                                     inference_generator, resolve_amp)
from v2vtool.models.generator import FewShotGenerator
from v2vtool.models.layers import Fp32Conv2d, batched_linear, instance_norm
from v2vtool.models.spade import SpadeResBlock

SMALL = ["generator.height=64", "generator.width=64", "generator.ngf=8",
         "generator.n_downsample=3", "generator.max_channels=32", "generator.flow_ngf=8",
         "generator.flow_n_blocks=1", "generator.flow_max_channels=32",
         "generator.attention_channels=8", "generator.spade_hidden=16",
         "generator.weightgen_hidden=16", "generator.composition=spade_combine"]


def _model(k: int = 2):
    cfg = apply_overrides(preset("tiny"), SMALL).generator
    torch.manual_seed(0)
    g = FewShotGenerator(cfg).eval()
    with torch.no_grad():  # non-zero combine heads / flow heads, so every path matters
        for p in g.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    gen = torch.Generator().manual_seed(1)
    c, h, w = cfg.semantic_nc, cfg.height, cfg.width
    from v2vtool.data.synth.motion import sample_prior_keypoints

    kp = sample_prior_keypoints("pose", k + 2, w, h)  # the keypoint prior's inputs
    x = dict(ex=torch.rand(1, k, 3, h, w, generator=gen) * 2 - 1,
             es=torch.rand(1, k, c, h, w, generator=gen), sem=torch.rand(1, c, h, w, generator=gen),
             prev=torch.rand(1, 1, 3, h, w, generator=gen) * 2 - 1,
             ps=torch.rand(1, 1, c, h, w, generator=gen), ex_kp=kp[None, :k], kp=kp[k:k + 1],
             prev_kp=kp[k + 1:])
    return g, x


def _run(g, x, fast: FastPath | None):
    L = fast.layout if fast is not None else (lambda t: t)
    ctx = fast.autocast() if fast is not None else parametrize.cached()
    with torch.inference_mode(), ctx:
        st = g.prepare(L(x["ex"]), L(x["es"]), x["ex_kp"])
        first = g.step(st, L(x["sem"]), None, None, x["kp"])
        return first, g.step(st, L(x["sem"]), L(x["prev"]), L(x["ps"]), x["kp"], x["prev_kp"])


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.float() - b.float()) ** 2).mean())
    return 10 * math.log10(4 / max(mse, 1e-20))  # images in [-1, 1]


def test_fp32_fast_path_equals_the_module_and_leaves_it_untouched():
    g, x = _model()
    ref = _run(g, x, None)
    fast = fast_path("cpu", "none", True)
    fg = inference_generator(g, fast)
    assert not any(parametrize.is_parametrized(m) for m in fg.modules())
    assert parametrize.is_parametrized(g.blocks[0].conv0)  # the original keeps spectral norm
    assert fg.blocks[0].conv0.weight.is_contiguous(memory_format=torch.channels_last)
    out = _run(fg, x, fast)
    for a, b in zip(ref, out):
        assert torch.allclose(a.image, b.image, atol=1e-4)
        assert torch.allclose(a.attention, b.attention, atol=1e-5)
    assert torch.equal(_run(g, x, None)[1].image, ref[1].image)  # original still works


def test_bf16_fast_path_is_close_and_keeps_flow_heads_fp32():
    g, x = _model()
    ref = _run(g, x, None)[1]
    fast = fast_path("cpu", "bf16")
    fg = inference_generator(g, fast)
    assert fg.blocks[-1].conv0.weight.dtype == torch.bfloat16
    assert isinstance(fg.flow_prev.flow_head, Fp32Conv2d)
    assert fg.flow_prev.flow_head.weight.dtype == torch.float32
    out = _run(fg, x, fast)[1]
    assert out.flow.dtype == torch.float32 and out.ref_flow.dtype == torch.float32
    assert _psnr(out.image, ref.image) > 35
    assert torch.allclose(out.attention.float(), ref.attention, atol=2e-2)


def test_resolve_amp(monkeypatch):
    from v2vtool.models import fastpath

    cpu = torch.device("cpu")
    monkeypatch.setattr(fastpath, "cpu_has_native_bf16", lambda: True)
    assert resolve_amp("auto", cpu, 128 * 256) == "bf16"
    assert resolve_amp("auto", cpu, 64 * 64) == "none"  # measured slower in bf16
    monkeypatch.setattr(fastpath, "cpu_has_native_bf16", lambda: False)
    assert resolve_amp("auto", cpu, 512 * 512) == "none"
    monkeypatch.undo()
    assert resolve_amp("none", torch.device("cpu")) == "none"
    assert resolve_amp("bf16", torch.device("cpu")) == "bf16"
    assert resolve_amp("auto", torch.device("cpu")) in ("bf16", "none")
    with pytest.raises(UserError, match="amp"):
        resolve_amp("fp16", torch.device("cpu"))


def test_inductor_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    assert inductor_cache_dir() == tmp_path / "mine"  # the user's choice wins
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert inductor_cache_dir() == tmp_path / "cache" / "v2vtool" / "inductor"


def test_layout_helpers():
    fast = fast_path("cpu", "none", True)
    x = torch.rand(2, 3, 8, 8)
    assert fast.layout(x).is_contiguous(memory_format=torch.channels_last)
    v = fast.layout(torch.rand(2, 4, 3, 8, 8))
    assert v[:, 1].stride(1) == 1  # each frame NHWC
    assert torch.allclose(instance_norm(fast.layout(x)), F.instance_norm(x, eps=1e-5), atol=1e-5)
    w, b = torch.rand(2, 5, 3), torch.rand(2, 5)
    acc = torch.rand(2, 5, 8, 8)
    ref = torch.einsum("boc,bchw->bohw", w, x) + b[:, :, None, None] + acc
    for inp in (x, fast.layout(x)):
        out = batched_linear(inp, w, b, accumulate=acc)
        assert torch.allclose(out, ref, atol=1e-5)


@pytest.mark.parametrize("adaptive,kernel", [(True, 1), (True, 3), (False, 1)])
def test_fused_modulation_equals_the_sum_of_its_sources(adaptive, kernel):
    """gamma/beta of a block = its own branch + each spade_combine branch, one pass."""
    torch.manual_seed(0)
    blk = SpadeResBlock(8, 4, 3, 6, adaptive=adaptive, kernel=kernel, n_combine=2)
    for br in blk.combine:
        torch.nn.init.normal_(br.head.weight)
        torch.nn.init.normal_(br.head.bias)
    sem, conds = torch.rand(2, 3, 8, 8), [torch.rand(2, 4, 8, 8), torch.rand(2, 4, 8, 8)]
    weights = None
    if adaptive:
        weights = {n: torch.randn(2, *s) for n, s in blk.weight_shapes().items()}
    for present in ([True, True], [False, True]):
        comb = [c if keep else None for c, keep in zip(conds, present)]
        mod = blk.modulation(sem, weights, comb, None)
        k = blk.kernel
        if adaptive:
            w_s = weights["theta_S"] / math.sqrt(3 * k * k)
            p = torch.stack([F.relu(F.conv2d(sem[i:i + 1], w_s[i], weights["theta_S_bias"][i],
                                             padding=k // 2)) for i in range(2)])[:, 0]
            w_gb = weights["theta_gb"] / math.sqrt(6 * k * k)
            ref = torch.stack([F.conv2d(p[i:i + 1], w_gb[i], weights["theta_gb_bias"][i] +
                                        blk.gamma_offset, padding=k // 2) for i in range(2)])[:, 0]
        else:
            ref = blk.branch(sem) + blk.gamma_offset[:, None, None]
        for br, c in zip(blk.combine, comb):
            if c is not None:
                ref = ref + br.head(F.relu(br.trunk(c)))
        assert torch.allclose(mod, ref, atol=1e-4), present


@pytest.mark.slow
def test_compiled_step_matches_eager(tmp_path, monkeypatch):
    from v2vtool.models.fastpath import compile_step

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    g, x = _model(k=1)
    fast = fast_path("cpu", "none", True, compile=True)
    fg = inference_generator(g, fast)
    eager = _run(fg, x, fast)[1]
    step = compile_step(fg)
    L = fast.layout
    with torch.inference_mode():
        st = fg.prepare(L(x["ex"]), L(x["es"]), x["ex_kp"])
        out = step(st, L(x["sem"]), L(x["prev"]), L(x["ps"]), x["kp"], x["prev_kp"])
    assert step.first_call_seconds is not None and step.first_call_seconds > 0
    assert torch.allclose(out.image, eager.image, atol=1e-3)
