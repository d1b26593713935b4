"""VGG19 weights: found in the hub cache or a given path (fetched there when online, see
tests/test_io_pretrained.py), otherwise disabled loudly with the exact path to put them at."""
import logging

import pytest
import torch

from tests.pretrained_server import hub, online, server, state_bytes  # noqa: F401 (fixtures)
from v2vtool.errors import UserError
from v2vtool.losses import perceptual_loss
from v2vtool.models import perceptual


def test_missing_weights_disable_the_term_loudly(hub, caplog):
    with caplog.at_level(logging.WARNING):  # offline (tests/conftest.py), nothing on disk
        vgg, status = perceptual.load_vgg19()
    assert vgg is None and status["enabled"] is False and status["path"] is None
    assert "offline" in status["reason"]
    assert f"put it at {hub / perceptual.FILENAME} " in status["reason"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "PERCEPTUAL LOSS DISABLED" in warnings[0].getMessage()
    assert str(hub / perceptual.FILENAME) in warnings[0].getMessage()
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


def test_fetched_when_online_with_no_option(hub, online, server, monkeypatch):
    torch.manual_seed(1)
    state = {f"features.{k}": v for k, v in perceptual.build_vgg19_features().state_dict().items()}
    server.serve(monkeypatch, "vgg19", state_bytes(state))
    vgg, status = perceptual.load_vgg19()
    assert status == {"enabled": True, "path": str(hub / perceptual.FILENAME),
                      "reason": "local weights"}
    assert torch.equal(vgg.features[28].weight, state["features.28.weight"])
    assert len(server.requests) == 1


def test_no_network_disables_the_term_and_fetch_false_never_tries(hub, online, server,
                                                                 monkeypatch):
    vgg, status = perceptual.load_vgg19()  # the `online` fixture's URL: a refused port
    assert vgg is None and "could not be downloaded (Connection refused)" in status["reason"]
    server.serve(monkeypatch, "vgg19", b"x")
    vgg, status = perceptual.load_vgg19(fetch=False)
    assert vgg is None and server.requests == []
    assert not perceptual.vgg19_status()["enabled"]


def test_bad_file_is_a_user_error(tmp_path):
    bad = tmp_path / "vgg.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError):
        perceptual.load_vgg19(bad)
    torch.save({"features.0.weight": torch.zeros(1)}, bad)
    with pytest.raises(UserError):
        perceptual.load_vgg19(bad)
