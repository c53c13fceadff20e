"""FCRN and the up-projection block: fast interleaved form == slow unpool + 5x5 conv form."""

import pytest
import torch
import torch.nn.functional as F

from depthstudy.models import build
from depthstudy.models.fcrn import InterleavedUpConv, UpProjection, interleave


def slow_upconv(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Zero-unpool x2 to the top-left of each 2x2 cell, then 5x5 cross-correlation, padding 2."""
    n, c, h, w = x.shape
    y = x.new_zeros(n, c, 2 * h, 2 * w)
    y[:, :, 0::2, 0::2] = x
    return F.conv2d(y, kernel, padding=2)


def assembled_kernel(m: InterleavedUpConv) -> torch.Tensor:
    """The 5x5 kernel whose even/odd rows/cols are the A, B, C, D kernels."""
    a, b, c, d = (conv.weight for conv in m.convs)
    k = a.new_zeros(a.shape[0], a.shape[1], 5, 5)
    k[..., 0::2, 0::2] = a
    k[..., 1::2, 0::2] = b
    k[..., 0::2, 1::2] = c
    k[..., 1::2, 1::2] = d
    return k


def test_interleave_positions():
    a, b, c, d = (torch.full((1, 1, 2, 2), float(v)) for v in (1, 2, 3, 4))
    y = interleave(a, b, c, d)
    expected = torch.tensor([[1., 3., 1., 3.], [2., 4., 2., 4.], [1., 3., 1., 3.], [2., 4., 2., 4.]])
    assert torch.equal(y[0, 0], expected)


def test_kernel_shapes():
    m = InterleavedUpConv(3, 5)
    assert [tuple(conv.weight.shape[-2:]) for conv in m.convs] == [(3, 3), (2, 3), (3, 2), (2, 2)]
    assert all(conv.bias is None for conv in m.convs)


@pytest.mark.parametrize("h,w", [(5, 7), (4, 4), (1, 3)])
def test_fast_equals_slow(h, w):
    torch.manual_seed(0)
    m = InterleavedUpConv(3, 4).double()
    x = torch.randn(2, 3, h, w, dtype=torch.float64)
    fast = m(x)
    slow = slow_upconv(x, assembled_kernel(m))
    assert fast.shape == (2, 4, 2 * h, 2 * w)
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-12)


def test_single_pixel_impulse_response():
    # One input pixel at (1, 1) lands at (2, 2) of the grid; the 5x5 correlation output at (p, q)
    # reads K[2 + 2 - p, 2 + 2 - q], so the response is the flipped kernel centred at (2, 2).
    m = InterleavedUpConv(1, 1).double()
    with torch.no_grad():
        for conv in m.convs:
            conv.weight.copy_(torch.arange(conv.weight.numel(), dtype=torch.float64)
                              .view_as(conv.weight) + 1)
    x = torch.zeros(1, 1, 3, 3, dtype=torch.float64)
    x[0, 0, 1, 1] = 1.0
    k = assembled_kernel(m)[0, 0]
    out = m(x)[0, 0]
    assert torch.equal(out[0:5, 0:5], k.flip(0).flip(1))
    assert out[5, :].abs().sum() == 0 and out[:, 5].abs().sum() == 0


def test_crop_and_error():
    m = InterleavedUpConv(2, 2)
    x = torch.randn(1, 2, 4, 5)
    full = m(x)
    torch.testing.assert_close(m(x, (7, 9)), full[..., :7, :9])
    with pytest.raises(ValueError, match="exceeds"):
        m(x, (9, 10))


def test_upprojection_equals_branch_formula():
    torch.manual_seed(1)
    block = UpProjection(3, 4).double().eval()
    for bn in (block.bn1, block.bn2, block.bn3):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 2)
        bn.bias.data.uniform_(-1, 1)
    x = torch.randn(1, 3, 3, 4, dtype=torch.float64)

    def bn(m, t):
        return F.batch_norm(t, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps)

    b1 = slow_upconv(x, assembled_kernel(block.up1))
    b1 = bn(block.bn2, F.conv2d(F.relu(bn(block.bn1, b1)), block.conv.weight, padding=1))
    b2 = bn(block.bn3, slow_upconv(x, assembled_kernel(block.up2)))
    torch.testing.assert_close(block(x), F.relu(b1 + b2))


@pytest.mark.parametrize("size", [(64, 96), (60, 76)])
def test_fcrn_shapes_and_backward(size):
    torch.manual_seed(0)
    model = build("fcrn", backbone_width=0.25)
    out = model(torch.rand(2, 3, *size))
    assert set(out) == {"depth"}
    assert out["depth"].shape == (2, 1, *size)
    out["depth"].mean().backward()
    assert model.pred.weight.grad is not None and model.encoder.conv1.weight.grad is not None


def test_fcrn_param_count():
    model = build("fcrn", backbone_width=0.25)
    c5 = model.encoder.out_channels[-1]          # 512 at width 0.25
    assert c5 == 512
    widths = [256, 128, 64, 32, 16]

    def up(ci, co):  # two interleaved convs (25 weights per in/out pair), 3 BNs, one 3x3 conv
        return 2 * 25 * ci * co + 9 * co * co + 3 * 2 * co

    expected = sum(p.numel() for p in model.encoder.parameters())
    expected += c5 * 256 + 256 + 2 * 256                 # layer1: 1x1 conv with bias + BN
    expected += sum(up(a, b) for a, b in zip(widths[:-1], widths[1:]))
    expected += 9 * 16 + 1                               # prediction conv
    assert sum(p.numel() for p in model.parameters()) == expected


def test_fcrn_rejects_bad_input():
    model = build("fcrn", backbone_width=0.25)
    with pytest.raises(ValueError, match=r"\[B,3,H,W\]"):
        model(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="dropout"):
        build("fcrn", backbone_width=0.25, dropout=1.5)
