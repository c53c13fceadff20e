"""timm-style check over every registered model: it maps a profile to its own options
(``from_profile``), builds at two profile sizes and returns the documented outputs."""

import pytest
import torch

from depthstudy import models
from depthstudy.profiles import get_profile

#: Input each model takes (HEGs take depth [B,1,H,W] in metres; the others RGB [B,3,H,W] in [0,1]).
INPUT_CHANNELS = {"heg_s": 1, "heg_r": 1}
#: Documented outputs of each model at its defaults (``depth`` is [B,1,H,W] metres at the input size).
OUTPUTS = {"cliffnet": {"depth"}, "fcrn": {"depth"}, "encdec": {"depth"}, "synergy": {"depth", "semantic"},
           "structure": {"depth", "semantic"}, "heg_s": {"scene"}, "heg_r": {"depth"}}
#: Options a model needs besides its sizing (a structure network must name its split).
NEEDED = {"structure": {"kind": "branch", "split": 1}}
SIZES = {"small": dict(backbone_depth=18, backbone_width=0.25, fpn_channels=16, head_width=8),
         "wider": dict(backbone_depth=18, backbone_width=0.5, fpn_channels=32, head_width=16)}


def test_every_registered_model_is_covered():
    assert set(models.available()) == set(OUTPUTS)


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("name", models.available())
def test_model_builds_from_profile_and_returns_its_outputs(name, size):
    profile = get_profile("smoke", **SIZES[size])
    torch.manual_seed(0)
    model = models.from_profile(name, profile, **NEEDED.get(name, {})).eval()
    image = torch.rand(2, INPUT_CHANNELS.get(name, 3), 40, 56) * (5.0 if name in INPUT_CHANNELS else 1.0)
    with torch.no_grad():
        out = model(image)
    assert OUTPUTS[name] <= set(out), f"{name}: outputs {sorted(out)}"
    if "depth" in out:
        assert tuple(out["depth"].shape) == (2, 1, 40, 56)
        assert torch.isfinite(out["depth"]).all()
    if "semantic" in out:
        assert out["semantic"].shape[0] == 2 and out["semantic"].shape[2:] == (40, 56)
    if "scene" in out:
        assert out["scene"].dim() == 2 and out["scene"].shape[0] == 2


def test_profile_sizes_reach_the_models():
    small, wider = (get_profile("smoke", **SIZES[k]) for k in ("small", "wider"))
    for name in ("cliffnet", "synergy", "fcrn", "encdec", "structure"):
        n_small = sum(p.numel() for p in models.from_profile(name, small, **NEEDED.get(name, {})).parameters())
        n_wider = sum(p.numel() for p in models.from_profile(name, wider, **NEEDED.get(name, {})).parameters())
        assert n_wider > n_small, name
    opts = models.profile_options("cliffnet", small, variant="wo_att")
    assert (opts["backbone_depth"], opts["backbone_width"], opts["fpn_channels"], opts["variant"]) == \
        (18, 0.25, 16, "wo_att")
    assert models.profile_options("structure", small)["width"] == 8


def test_unknown_model_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        models.from_profile("nope", get_profile("smoke"))
