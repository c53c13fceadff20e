"""Profiles are validated data: unknown names and parameters are errors listing valid ones."""

import pytest

from depthstudy.profiles import PROFILES, get_profile, profile_names


def test_four_profiles_with_expected_datasets():
    assert profile_names() == ["smoke", "preview", "cpu", "gpu", "nyu"]
    assert {p.dataset for n, p in PROFILES.items() if n != "nyu"} == {"synthrooms"}
    assert PROFILES["nyu"].dataset == "nyuv2"
    assert len(PROFILES["cpu"].seeds) == 5 and len(PROFILES["smoke"].seeds) == 1
    assert "NOT CONCLUSIVE" in PROFILES["preview"].description


def test_gpu_and_nyu_use_cliffnet_resolution_and_resnet50():
    for name in ("gpu", "nyu"):
        p = PROFILES[name]
        assert (p.height, p.width, p.backbone_depth, p.backbone_width) == (228, 304, 50, 1.0)


def test_unknown_profile_lists_valid_names():
    with pytest.raises(ValueError, match="nosuch.*smoke, preview, cpu, gpu, nyu"):
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


def test_lr_decay_fractions_become_milestones_of_each_run():
    from depthstudy.engine import TrainConfig

    cpu = get_profile("cpu")
    assert cpu.lr_decay_at == (0.75,)
    assert TrainConfig.from_profile(cpu).lr_decay_steps == (90,)
    assert TrainConfig.from_profile(cpu, steps=200).lr_decay_steps == (150,)   # e.g. HEG runs
    assert TrainConfig.from_profile(cpu, steps=200, lr_decay_steps=()).lr_decay_steps == ()
    assert get_profile("cpu", lr_decay_at=(0.5, 0.9)).decay_steps(10) == (5, 9)
    assert get_profile("cpu", lr_decay_at=(0.01,)).decay_steps(10) == ()      # rounds to step 0: none
    assert get_profile("smoke").decay_steps(12) == ()


@pytest.mark.parametrize("bad", [(0.0,), (1.0,), (0.8, 0.5), (0.5, 0.5)])
def test_lr_decay_fractions_are_checked(bad):
    with pytest.raises(ValueError, match="lr_decay_at must be increasing fractions in \\(0, 1\\)"):
        get_profile("cpu", lr_decay_at=bad)
