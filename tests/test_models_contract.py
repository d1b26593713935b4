"""The generator contract (models/contract.py): every appearance variant that
`build_generator` makes honours it: the four methods with the contract's exact signatures,
and outputs with the contract's fields and shapes."""
from __future__ import annotations

import dataclasses
import inspect

import pytest
import torch

from v2vtool.models.build import build_generator
from v2vtool.models.contract import ExampleState, Generator, SequenceOutput, StepOutput

from tests.test_models_generator import H, W, tiny

METHODS = ("prepare", "step", "forward", "finetune_parameters")
STEP_FIELDS = ["image", "raw", "flow", "mask", "warped_prev", "ref_flow", "ref_mask",
               "warped_ref", "attention", "ref_index", "selection", "confidence"]


def test_output_fields_are_the_contract():
    assert [f.name for f in dataclasses.fields(StepOutput)] == STEP_FIELDS
    assert [f.name for f in dataclasses.fields(SequenceOutput)] == STEP_FIELDS + ["has_prev"]
    assert [f.name for f in dataclasses.fields(ExampleState)] == [
        "examples", "example_semantics", "features", "keys", "appearance", "semantics_small",
        "sources"]


@pytest.mark.parametrize("prior", ["none", "keypoints"])
@pytest.mark.parametrize("appearance", ["weightgen", "encoder", "concat", "adain"])
def test_every_appearance_variant_honours_the_contract(appearance, prior):
    from tests.test_models_generator_prior import poses

    torch.manual_seed(0)
    g = build_generator(tiny(appearance=appearance, flow_prior=prior)).eval()
    assert isinstance(g, Generator) and isinstance(g, torch.nn.Module)
    for name in METHODS:  # same parameters, defaults and annotations as the Protocol
        assert inspect.signature(getattr(type(g), name)) == \
            inspect.signature(getattr(Generator, name)), name

    b, k, t, c = 2, 2, 2, g.cfg.semantic_nc
    ex = torch.rand(b, k, 3, H, W) * 2 - 1
    es, sem = torch.rand(b, k, c, H, W), torch.rand(b, t, c, H, W)
    ex_kp, kp = (poses(b, k, seed=1), poses(b, t, seed=2)) if prior == "keypoints" else (None, None)
    kp_t = (lambda i: kp[:, i]) if kp is not None else (lambda i: None)  # noqa: E731
    with torch.no_grad():
        state = g.prepare(ex, es, ex_kp)
        assert isinstance(state, ExampleState) and state.k == k
        first = g.step(state, sem[:, 0], keypoints=kp_t(0))
        assert isinstance(first, StepOutput)
        assert first.image.shape == first.raw.shape == (b, 3, H, W)
        assert first.flow is None and first.mask is None  # no previous frame
        assert first.ref_index.shape == (b,) and first.ref_index.dtype == torch.long
        nxt = g.step(state, sem[:, 1], first.image[:, None], sem[:, :1], kp_t(1), kp_t(0))
        assert nxt.flow.shape == (b, 2, H, W) and nxt.mask.shape == (b, 1, H, W)
        assert nxt.warped_prev.shape == (b, 3, H, W)
        assert nxt.attention.shape[:2] == (b, k)
        assert (nxt.selection is not None) == (prior == "keypoints")
        seq = g(ex, es, sem, example_keypoints=ex_kp, keypoints=kp)
    assert isinstance(seq, SequenceOutput)
    assert seq.image.shape == (b, t, 3, H, W) and seq.has_prev.tolist() == [False, True]
    assert seq.flow.shape == (b, t, 2, H, W) and seq.ref_index.shape == (b, t)
    params = g.finetune_parameters()
    ids = {id(p) for p in g.parameters()}
    assert params and all(id(p) in ids for p in params) and len(params) < len(ids)
