"""EncdDecd baseline (decision J16): shapes at odd sizes, unpooling, parameter count."""

import pytest
import torch

from depthstudy.models import build
from depthstudy.models.encdec import stage_channels


@pytest.mark.parametrize("upsample", ["unpool", "bilinear"])
@pytest.mark.parametrize("size", [(64, 96), (60, 76), (37, 53)])
def test_shapes_and_backward(size, upsample):
    torch.manual_seed(0)
    model = build("encdec", base=4, depth=5, upsample=upsample)
    out = model(torch.rand(2, 3, *size))
    assert set(out) == {"depth"} and out["depth"].shape == (2, 1, *size)
    out["depth"].mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_stage_channels():
    assert stage_channels(32, 5) == [32, 64, 128, 256, 256]
    assert stage_channels(8, 2) == [8, 16]


def test_param_count_by_hand():
    model = build("encdec", base=4, depth=2)   # channels 4, 8

    def cbr(ci, co):
        return 9 * ci * co + 2 * co

    encoder = cbr(3, 4) + cbr(4, 4) + cbr(4, 8) + cbr(8, 8)
    decoder = cbr(8, 8) + cbr(8, 4) + cbr(4, 4) + cbr(4, 4)
    assert sum(p.numel() for p in model.parameters()) == encoder + decoder + 9 * 4 + 1


def test_unpool_places_values_at_max_positions():
    # depth-1 net; make the decoder and prediction identities to read the unpooled map directly
    model = build("encdec", base=1, depth=1, input_norm="none").eval()
    with torch.no_grad():
        for seq in (model.encoder[0], model.decoder[0]):
            for conv, bn, _ in seq:
                conv.weight.zero_()
                conv.weight[0, 0, 1, 1] = 1.0          # copy the first input channel
                bn.running_mean.zero_()
                bn.running_var.fill_(1 - bn.eps)       # BN(x) = x in eval mode
                bn.weight.fill_(1.0)
                bn.bias.zero_()
        model.pred.weight.zero_()
        model.pred.weight[0, 0, 1, 1] = 1.0
        model.pred.bias.zero_()
    x = torch.zeros(1, 3, 2, 3)
    x[0, 0] = torch.tensor([[0.1, 0.9, 0.2], [0.3, 0.4, 0.7]])
    out = model(x)["depth"][0, 0]
    expected = torch.tensor([[0.0, 0.9, 0.0], [0.0, 0.0, 0.7]])
    torch.testing.assert_close(out, expected)


def test_bad_options():
    with pytest.raises(ValueError, match="depth"):
        build("encdec", depth=0)
    with pytest.raises(ValueError, match="base"):
        build("encdec", base=0)
    with pytest.raises(ValueError, match="upsample"):
        build("encdec", upsample="deconv")
