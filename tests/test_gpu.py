"""The CUDA path (marked `gpu`, skipped without a CUDA device; `benchmarks/gpu.sh` runs them):
a bf16 warp, face crops with > 256 boxes, the generator's fast path vs fp32, a few training
steps in bf16 (also on `cuda:0`, and compiled), and synthesis end to end."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.test_train_loop import pose_set, tiny_config  # noqa: F401 - fixture
from v2vtool.config import apply_overrides, preset
from v2vtool.models.fastpath import fast_path, inference_generator
from v2vtool.models.generator import FewShotGenerator
from v2vtool.models.warp import warp

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_bf16_zero_flow_warp_on_cuda():
    img = (torch.rand(2, 3, 16, 512, device="cuda") * 2 - 1).to(torch.bfloat16)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        flow = torch.nn.functional.conv2d(torch.zeros(2, 2, 16, 512, device="cuda"),
                                          torch.zeros(2, 2, 1, 1, device="cuda"))
        out = warp(img, flow)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), img.float(), atol=1e-4, rtol=0)


def test_face_crops_with_300_bf16_boxes_on_cuda():
    from v2vtool.models.discriminators import crop_boxes

    n = 300
    frames = torch.arange(n, dtype=torch.float32, device="cuda")[:, None, None, None]
    frames = frames.expand(n, 1, 24, 600).contiguous()
    boxes = torch.tensor([[500.0, 4.0, 520.0, 20.0]], device="cuda").repeat(n, 1)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        crops = crop_boxes(frames.to(torch.bfloat16), boxes.to(torch.bfloat16), 8)
    ids = crops.float().mean(dim=(1, 2, 3)).cpu()
    assert ((ids - torch.arange(n)).abs() <= 1.5).all()


@pytest.mark.parametrize("k", [1, 3])
def test_fast_path_step_close_to_fp32_on_cuda(k):
    cfg = apply_overrides(preset("tiny"), ["generator.composition=spade_combine"]).generator
    torch.manual_seed(0)
    g = FewShotGenerator(cfg).cuda().eval()
    c, h, w = cfg.semantic_nc, cfg.height, cfg.width
    gen = torch.Generator().manual_seed(1)
    ex = (torch.rand(1, k, 3, h, w, generator=gen) * 2 - 1).cuda()
    es = torch.rand(1, k, c, h, w, generator=gen).cuda()
    sem = torch.rand(1, c, h, w, generator=gen).cuda()
    prev = (torch.rand(1, 1, 3, h, w, generator=gen) * 2 - 1).cuda()
    from v2vtool.data.synth.motion import sample_prior_keypoints

    kp = sample_prior_keypoints("pose", k + 2, w, h).cuda()
    ex_kp, tkp, pkp = kp[None, :k], kp[k:k + 1], kp[k + 1:]
    with torch.inference_mode():
        ref = g.step(g.prepare(ex, es, ex_kp), sem, prev, sem[:, None], tkp, pkp).image.float()
        fast = fast_path("cuda", "auto")
        assert fast.amp == "bf16" and fast.channels_last
        fg = inference_generator(g, fast)
        L = fast.layout
        with fast.autocast():
            out = fg.step(fg.prepare(L(ex), L(es), ex_kp), L(sem), L(prev), L(sem[:, None]), tkp,
                          pkp).image
    mse = float(((out.float() - ref) ** 2).mean())
    assert 10 * np.log10(4 / max(mse, 1e-12)) > 35  # bf16 vs fp32, images in [-1, 1]


@pytest.mark.parametrize("extra,device,steps", [
    (("train.amp=bf16",), "cuda", 4), (("train.amp=auto",), "cuda:0", 4),
    # compiled last (the slowest); K = 1 only: two graphs (without / with a previous frame)
    (("train.amp=bf16", "train.compile=true", "train.k_max=1"), "cuda", 3)])
def test_train_steps_on_cuda(pose_set, tmp_path, extra, device, steps):  # noqa: F811
    from v2vtool.models.checkpoint import load_generator
    from v2vtool.training import train
    from v2vtool.training.runlog import read_metrics

    cfg = tiny_config("pose", *extra, "discriminator.face=true", "discriminator.face_size=16")
    ckpt = train([pose_set], tmp_path / "run", cfg, steps=steps, device=device, progress=False)
    recs = read_metrics(tmp_path / "run", "train")
    assert [r["step"] for r in recs] == list(range(1, steps + 1))
    assert all(np.isfinite(r["g_total"]) and np.isfinite(r["d_total"]) for r in recs)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["device"].startswith("cuda") and run["amp"] == "bf16"
    loaded = load_generator(ckpt)
    assert all(torch.isfinite(p).all() for p in loaded.generator.parameters())


def test_synthesis_on_cuda_matches_cpu(pose_ckpt, heldout_clip, tmp_path):
    from v2vtool.io.video import read_frames
    from v2vtool.synthesis import synthesize

    outs = {}
    for device, amp in (("cpu", "none"), ("cuda", "auto")):
        res = synthesize([f"{heldout_clip}:0,5"], heldout_clip, tmp_path / f"{device}.mp4",
                         checkpoint=pose_ckpt, device=device, amp=amp,
                         frames_dir=tmp_path / f"{device}-frames")
        assert res.frames == 24
        side = json.loads(res.sidecar.read_text())
        assert side["fast_path"]["device"].startswith(device)
        outs[device] = np.stack([np.asarray(f, np.float32) for f in
                                 read_frames(tmp_path / f"{device}-frames")])
    mse = float(((outs["cpu"] - outs["cuda"]) ** 2).mean())
    assert 10 * np.log10(255 ** 2 / max(mse, 1e-6)) > 30
