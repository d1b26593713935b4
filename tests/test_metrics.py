"""Metrics: reconstruction, warp error, pose error, FID math + weight loading, unavailability."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.pretrained_server import hub, online, server, state_bytes  # noqa: F401 (fixtures)
from v2vtool.io import pretrained
from v2vtool.metrics import MetricUnavailable, l1, pose_error, psnr, ssim, warp_error
from v2vtool.metrics import fid as fidm
from v2vtool.metrics import perceptual



def _img(seed=0, h=48, w=64):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_reconstruction_known_pairs():
    a = np.full((32, 32, 3), 100, np.uint8)
    b = np.full((32, 32, 3), 110, np.uint8)
    # MSE = 100 -> PSNR = 10 log10(255^2 / 100)
    assert psnr(a, b) == pytest.approx(10 * np.log10(255 ** 2 / 100), abs=1e-6)
    assert l1(a, b) == pytest.approx(10 / 255)
    assert psnr(a, a) == 100.0 and l1(a, a) == 0.0
    x = np.repeat(np.repeat(_img(1, 8, 8), 8, 0), 8, 1)  # blocky, structured image
    assert ssim(x, x) == pytest.approx(1.0)
    noisy = np.clip(x.astype(int) + np.random.default_rng(2).integers(-60, 60, x.shape), 0, 255)
    assert ssim(noisy.astype(np.uint8), x) < 0.9
    with pytest.raises(ValueError):
        psnr(a, np.zeros((16, 16, 3), np.uint8))


def _moving_square(n=5, shift=2, size=64):
    frames = []
    rng = np.random.default_rng(0)
    tex = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    for t in range(n):
        f = np.full((size, size, 3), 40, np.uint8)
        f[:] = (np.arange(size)[None, :, None] * 3).astype(np.uint8)  # gradient background
        x = 10 + t * shift
        f[20:40, x:x + 20] = tex
        frames.append(f)
    return frames


def test_warp_error_consistent_vs_flicker():
    real = _moving_square()
    res = warp_error(real, real)
    assert res.pairs == 4 and res.generated == res.reference
    assert res.generated < 0.03  # a smoothly moving texture warps well
    rng = np.random.default_rng(3)
    flicker = [np.clip(f.astype(int) + rng.integers(-50, 50, f.shape), 0, 255).astype(np.uint8)
               for f in real]
    bad = warp_error(flicker, real)
    assert bad.generated > res.generated + 0.05
    assert bad.reference == pytest.approx(res.reference)
    with pytest.raises(ValueError):
        warp_error(real[:1], real[:1])
    with pytest.raises(ValueError):
        warp_error(real[:3], real)


def test_pose_error_truth_is_zero_and_scaled():
    rng = np.random.default_rng(0)
    drv = [np.concatenate([rng.uniform(0, 64, (25, 2)), np.ones((25, 1))], 1) for _ in range(4)]
    drv[0][3, 2] = 0  # a joint missing in the driver is not counted
    r = pose_error(drv, drv, frame_height=64)
    assert r.error == 0.0 and r.missing_rate == 0.0 and r.joints_compared == 99
    shifted = [d.copy() for d in drv]
    for s in shifted:
        s[:, 0] += 3.0
        s[:, 1] += 4.0  # distance 5 px at 64 high -> 40 px at 512
    shifted[1][:5, 2] = 0  # 5 joints not found
    r2 = pose_error(shifted, drv, frame_height=64, reference_height=512)
    assert r2.error == pytest.approx(40.0, rel=1e-5)
    assert r2.missing_rate == pytest.approx(5 / 99)
    r3 = pose_error([None] * 4, drv, frame_height=64)
    assert r3.error is None and r3.missing_rate == 1.0


def test_frechet_distance_math():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    mu, sig = fidm.activation_statistics(x)
    assert fidm.frechet_distance(mu, sig, mu, sig) == pytest.approx(0.0, abs=1e-6)
    # 1-D gaussians: (m1-m2)^2 + s1 + s2 - 2 sqrt(s1 s2)
    d = fidm.frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]),
                              np.array([[1.0]]))
    assert d == pytest.approx(4 + 4 + 1 - 2 * 2)


@pytest.fixture(scope="module")
def fid_weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("fidw") / fidm.FID_WEIGHTS_FILE
    torch.save(fidm.build_fid_inception().state_dict(), path)
    return path


def test_fid_with_test_made_weights(fid_weights):
    model = fidm.load_fid_model(fid_weights)
    assert model.weights_path == fid_weights and not model.official
    real = [_img(i, 64, 64) for i in range(6)]
    rng = np.random.default_rng(9)
    noisy = [np.clip(f.astype(int) + rng.normal(0, 40, f.shape), 0, 255).astype(np.uint8)
             for f in real]
    noisier = [np.clip(f.astype(int) + rng.normal(0, 100, f.shape), 0, 255).astype(np.uint8)
               for f in real]
    acts = fidm.inception_activations(model, real)
    assert acts.shape == (6, 2048)
    a_n = fidm.inception_activations(model, noisy)
    a_nn = fidm.inception_activations(model, noisier)
    same = fidm.fid_from_activations(acts, acts)
    d1 = fidm.fid_from_activations(a_n, acts)
    d2 = fidm.fid_from_activations(a_nn, acts)
    assert same < 1e-3 * d1
    assert 0 < d1 < d2
    # the low-rank route agrees with the textbook sqrtm route
    ref = fidm.frechet_distance(*fidm.activation_statistics(a_n[:, :64]),
                                *fidm.activation_statistics(acts[:, :64]))
    assert fidm.fid_from_activations(a_n[:, :64], acts[:, :64]) == pytest.approx(ref, rel=1e-3)


def test_fid_unavailable_names_file(tmp_path, hub):
    with pytest.raises(MetricUnavailable) as info:  # offline (tests/conftest.py), nothing on disk
        fidm.load_fid_model()
    msg = str(info.value)
    assert msg.startswith("FID unavailable: pt_inception-2015-12-05-6726825d.pth")
    assert f"put it at {hub / fidm.FID_WEIGHTS_FILE} " in msg and "offline" in msg
    with pytest.raises(MetricUnavailable, match="file not found"):
        fidm.load_fid_model(tmp_path / "nope.pth")
    bad = tmp_path / "bad.pth"
    torch.save({"x": torch.zeros(1)}, bad)
    with pytest.raises(MetricUnavailable, match="layout"):
        fidm.load_fid_model(bad)


def test_fid_uses_the_hub_cache_file_with_no_option(fid_weights, hub, monkeypatch):
    from tests.pretrained_server import point

    hub.mkdir(parents=True)
    (hub / fidm.FID_WEIGHTS_FILE).symlink_to(fid_weights)
    model = fidm.load_fid_model()
    assert model.weights_path == hub / fidm.FID_WEIGHTS_FILE and not model.official
    point(monkeypatch, "inception", "http://127.0.0.1:1/x", published=fid_weights.read_bytes())
    assert fidm.load_fid_model().official  # the full SHA-256 of the registry decides


def test_fid_fetches_its_weights_with_no_option(fid_weights, hub, online, server, monkeypatch):
    server.serve(monkeypatch, "inception", fid_weights.read_bytes())
    model = fidm.load_fid_model()
    assert model.weights_path == hub / fidm.FID_WEIGHTS_FILE and model.official
    assert model.weights_path.read_bytes() == fid_weights.read_bytes()
    assert fidm.resolve_fid_weights() == model.weights_path  # cached: no second request
    assert len(server.requests) == 1


def test_lpips_unavailable_or_loaded(hub):
    with pytest.raises(MetricUnavailable, match="LPIPS unavailable: alexnet-owt-7be5be79.pth"):
        perceptual.load_lpips("alex")


def test_lpips_fetches_its_backbone_with_no_option(hub, online, server, monkeypatch):
    import torchvision
    torch.manual_seed(0)
    features = {k: v for k, v in torchvision.models.alexnet(weights=None).state_dict().items()
                if k.startswith("features.")}  # what LPIPS reads (10 MB, not 233)
    server.serve(monkeypatch, "alexnet", state_bytes(features))
    m = perceptual.load_lpips("alex")
    assert m.backbone_path == hub / "alexnet-owt-7be5be79.pth" and m.backbone_path.is_file()
    assert torch.equal(m.net.net.slice1[0].weight, features["features.0.weight"])
    assert pretrained.state("alexnet").hash == "ok"
    a = _img(0, 64, 64)
    assert perceptual.lpips_distance(m, _img(1, 64, 64), a) > 0
    assert len(server.requests) == 1
    perceptual.load_lpips("alex")  # from the hub cache now
    assert len(server.requests) == 1


def test_lpips_with_local_backbone(tmp_path):
    import torchvision
    torch.manual_seed(0)
    path = tmp_path / "alexnet-owt-7be5be79.pth"
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), path)
    m = perceptual.load_lpips("alex", backbone=path)
    a = _img(0, 64, 64)
    assert perceptual.lpips_distance(m, a, a) == pytest.approx(0.0, abs=1e-6)
    assert perceptual.lpips_distance(m, _img(1, 64, 64), a) > 0
