"""VGG19 weights: found in the hub cache or a given path, otherwise disabled loudly."""
import logging

import pytest
import torch

from v2vtool.errors import UserError
from v2vtool.losses import perceptual_loss
from v2vtool.models import perceptual


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)
    return tmp_path / "torch" / "hub" / "checkpoints"


def test_missing_weights_disable_the_term_loudly(hub, caplog):
    with caplog.at_level(logging.WARNING):
        vgg, status = perceptual.load_vgg19()
    assert vgg is None and status["enabled"] is False and status["path"] is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "PERCEPTUAL LOSS DISABLED" in warnings[0].getMessage()
    with pytest.raises(UserError):
        perceptual.load_vgg19(hub / "nope.pth")


def test_loads_from_hub_cache_and_computes_loss(hub):
    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in perceptual.build_vgg19_features().state_dict().items()}
    hub.mkdir(parents=True)
    torch.save(state, hub / perceptual.FILENAME)
    assert perceptual.vgg19_status()["enabled"]
    vgg, status = perceptual.load_vgg19()
    assert status == {"enabled": True, "path": str(hub / perceptual.FILENAME), "reason": "local weights"}
    assert torch.equal(vgg.features[0].weight, state["features.0.weight"])  # the file's weights
    feats = vgg(torch.rand(1, 3, 32, 32))
    assert [f.shape[1] for f in feats] == [64, 128, 256, 512, 512]
    fake = (torch.rand(2, 3, 32, 32) * 2 - 1).requires_grad_()
    real = torch.rand(2, 3, 32, 32) * 2 - 1
    loss = perceptual_loss(vgg, fake, real)
    assert loss > 0 and perceptual_loss(vgg, real, real) == 0
    loss.backward()
    assert fake.grad.abs().sum() > 0


def test_bad_file_is_a_user_error(tmp_path):
    bad = tmp_path / "vgg.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError):
        perceptual.load_vgg19(bad)
    torch.save({"features.0.weight": torch.zeros(1)}, bad)
    with pytest.raises(UserError):
        perceptual.load_vgg19(bad)
