"""warp(): the single grid_sample call of the generator."""
import pytest
import torch

from v2vtool.models.warp import warp


def test_zero_flow_is_identity():
    img = torch.rand(2, 3, 9, 13)
    out = warp(img, torch.zeros(2, 2, 9, 13))
    assert torch.allclose(out, img, atol=1e-6)


@pytest.mark.parametrize("dx,dy", [(3, 0), (0, 2), (-2, 1)])
def test_translation_flow_reproduces_shifted_image(dx, dy):
    torch.manual_seed(0)
    img = torch.rand(1, 3, 16, 20)
    shifted = torch.roll(img, shifts=(dy, dx), dims=(2, 3))  # content moves by (+dx, +dy)
    flow = torch.zeros(1, 2, 16, 20)
    flow[:, 0], flow[:, 1] = -dx, -dy  # out(p) = img(p + flow) = img(p - d)
    out = warp(img, flow)
    ys = slice(max(dy, 0), 16 + min(dy, 0))
    xs = slice(max(dx, 0), 20 + min(dx, 0))
    assert torch.allclose(out[..., ys, xs], shifted[..., ys, xs], atol=1e-5)


def test_half_pixel_flow_interpolates_bilinearly():
    img = torch.arange(8.0).reshape(1, 1, 1, 8).expand(1, 1, 4, 8).contiguous()
    flow = torch.zeros(1, 2, 4, 8)
    flow[:, 0] = 0.5
    out = warp(img, flow)
    assert torch.allclose(out[..., :7], img[..., :7] + 0.5, atol=1e-5)


def test_warp_backward_reaches_flow_and_image():
    img = torch.rand(1, 3, 8, 8, requires_grad=True)
    flow = (torch.rand(1, 2, 8, 8) * 2).requires_grad_()
    warp(img, flow).square().sum().backward()
    assert img.grad.abs().sum() > 0 and flow.grad.abs().sum() > 0


def test_bad_shapes_raise():
    with pytest.raises(ValueError):
        warp(torch.rand(1, 3, 8, 8), torch.zeros(1, 2, 8, 9))


@pytest.mark.parametrize("k", [1, 3])
def test_batched_conv2d_matches_per_sample_conv(k):
    import torch.nn.functional as F

    from v2vtool.models.layers import batched_conv2d

    torch.manual_seed(0)
    x, w, b = torch.rand(3, 4, 8, 8), torch.randn(3, 5, 4, k, k), torch.randn(3, 5)
    out = batched_conv2d(x, w, b)
    for i in range(3):
        ref = F.conv2d(x[i:i + 1], w[i], b[i], padding=k // 2)
        assert torch.allclose(out[i:i + 1], ref, atol=1e-5)
    assert torch.allclose(batched_conv2d(x, w, None), out - b[:, :, None, None], atol=1e-5)


@pytest.mark.parametrize("width", [256, 512])
def test_bf16_zero_flow_warp_under_autocast_is_identity(width):
    """bf16 frames (train.amp=bf16, the fast path) must not get a bf16 sampling grid: pixel
    coordinates above 256 are not representable in bf16 and the frame would shift."""
    torch.manual_seed(0)
    img = (torch.rand(1, 3, 8, width) * 2 - 1).to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        flow = torch.nn.functional.conv2d(torch.zeros(1, 2, 8, width), torch.zeros(2, 2, 1, 1))
        assert flow.dtype == torch.bfloat16  # what the flow net hands over under autocast
        out = warp(img, flow)
    assert out.dtype == torch.bfloat16
    # equal up to fp32 interpolation rounding (<= 1 bf16 ulp on a few pixels); a bf16 grid is
    # off by up to 2 px here (mean error ~0.3)
    torch.testing.assert_close(out.float(), img.float(), atol=1e-4, rtol=0)
    out32 = warp(img.float(), torch.full((1, 2, 8, width), 0.25, dtype=torch.bfloat16))
    assert out32.dtype == torch.float32
    ref = warp(img.float(), torch.full((1, 2, 8, width), 0.25))
    assert torch.allclose(out32, ref, atol=1e-6)
