"""Training checkpoints: atomic writes, keep-last-N + latest, disk-full safety, no-pickle state."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from v2vtool.config import preset
from v2vtool.errors import UserError
from v2vtool.models.checkpoint import resolve_checkpoint
from v2vtool.training import checkpoint as ck
from v2vtool.training.state import flatten_state, rng_state, set_rng_state, unflatten_state


class _G(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 2)


def _save(root, step, keep=2):
    g, d = _G(), _G()
    return ck.save_training_checkpoint(root, step, preset("tiny"), g, None, {"image": d},
                                       {"step": step}, {"x": torch.zeros(1)}, keep)


def test_keep_last_n_and_latest(tmp_path):
    root = tmp_path / "run" / "checkpoints"
    for s in (1, 2, 3):
        _save(root, s)
    assert [p.name for p in ck.list_checkpoints(root)] == ["step-0000002", "step-0000003"]
    assert resolve_checkpoint(tmp_path / "run").name == "step-0000003"
    assert (root / "latest").is_symlink()
    assert sorted(p.name for p in (root / "step-0000003").iterdir()) == [
        "config.json", "discriminators.safetensors", "generator.safetensors",
        "trainer_state.json", "trainer_state.safetensors"]
    # `latest` as a text pointer (filesystems without symlinks) is followed too
    (root / "latest").unlink()
    (root / "latest").write_text("step-0000002\n")
    assert resolve_checkpoint(tmp_path / "run").name == "step-0000002"
    assert ck.load_training_checkpoint(tmp_path / "run").state == {"step": 2}


def test_disk_full_leaves_previous_checkpoint(tmp_path, monkeypatch):
    root = tmp_path / "checkpoints"
    _save(root, 1)

    from safetensors import SafetensorError

    from v2vtool.io import weights

    def full(*a, **k):  # what safetensors raises on a full disk (its own type, errno in text)
        raise SafetensorError('Error while serializing: IoError(Os { code: 28, kind: '
                              'StorageFull, message: "No space left on device" })')

    monkeypatch.setattr(weights, "save_file", full)
    with pytest.raises(UserError, match="could not write checkpoint .*no space left"):
        _save(root, 2)
    assert [p.name for p in root.iterdir() if p.name != "latest"] == ["step-0000001"]
    assert resolve_checkpoint(root).name == "step-0000001"


def test_trainer_state_roundtrip_without_pickle(tmp_path):
    m = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3, betas=(0.0, 0.99))
    m(torch.randn(4, 3)).sum().backward()
    opt.step()
    tensors: dict = {}
    skeleton = flatten_state({"opt": opt.state_dict(), "rng": rng_state()}, "s", tensors)
    skeleton = json.loads(json.dumps(skeleton))  # must be plain JSON
    from safetensors.torch import load_file, save_file

    save_file(tensors, str(tmp_path / "t.safetensors"))
    back = unflatten_state(skeleton, load_file(str(tmp_path / "t.safetensors")))
    opt2 = torch.optim.Adam(m.parameters())
    opt2.load_state_dict(back["opt"])
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    assert opt2.param_groups[0]["betas"] == (0.0, 0.99)
    draws = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(back["rng"])
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(draws[0], again[0]) and np.array_equal(draws[1], again[1])
    assert draws[2] == again[2]


@pytest.mark.parametrize("saved,visible", [(4, 2), (2, 4), (1, 1)])
def test_cuda_rng_states_restore_with_fewer_or_more_gpus(monkeypatch, saved, visible):
    """Rank 0 saves one CUDA RNG state per GPU it saw; resuming on a machine with fewer GPUs
    used to raise IndexError. Exercised on CPU with the CUDA calls recorded."""
    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: visible)
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda s, i: calls.append((i, s.dtype)))

    def set_all(states):  # what torch does: device i for the i-th state, IndexError past the end
        for i, s in enumerate(states):
            if i >= visible:
                raise IndexError(f"no CUDA device {i}")
            calls.append((i, s.dtype))

    monkeypatch.setattr(torch.cuda, "set_rng_state_all", set_all)
    state = rng_state()
    state["cuda"] = [torch.full((16,), i, dtype=torch.int64) for i in range(saved)]
    tensors: dict = {}
    back = unflatten_state(flatten_state(state, "s", tensors), tensors)
    set_rng_state(back)
    assert calls == [(i, torch.uint8) for i in range(min(saved, visible))]
