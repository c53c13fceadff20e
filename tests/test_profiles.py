"""Profiles are validated data: unknown names and parameters are errors listing valid ones."""

import pytest

from depthstudy.profiles import PROFILES, get_profile, profile_names


def test_four_profiles_with_expected_datasets():
    assert profile_names() == ["smoke", "cpu", "gpu", "nyu"]
    assert {p.dataset for n, p in PROFILES.items() if n != "nyu"} == {"synthrooms"}
    assert PROFILES["nyu"].dataset == "nyuv2"
    assert len(PROFILES["cpu"].seeds) == 3 and len(PROFILES["smoke"].seeds) == 1


def test_gpu_and_nyu_use_cliffnet_resolution_and_resnet50():
    for name in ("gpu", "nyu"):
        p = PROFILES[name]
        assert (p.height, p.width, p.backbone_depth, p.backbone_width) == (228, 304, 50, 1.0)


def test_unknown_profile_lists_valid_names():
    with pytest.raises(ValueError, match="nosuch.*smoke, cpu, gpu, nyu"):
        get_profile("nosuch")


def test_unknown_parameter_lists_valid_names():
    with pytest.raises(ValueError, match=r"\['bogus'\].*height"):
        get_profile("smoke", bogus=1)


def test_override_and_env_default(monkeypatch):
    monkeypatch.setenv("DEPTHSTUDY_PROFILE", "smoke")
    p = get_profile(steps=3)
    assert p.name == "smoke" and p.steps == 3
    assert PROFILES["smoke"].steps != 3  # the registry itself is untouched
    monkeypatch.delenv("DEPTHSTUDY_PROFILE")
    assert get_profile().name == "cpu"
