"""Validation and pre-training splits (Decisions S11, S12), the pre-trained trunk, the HEG classifiers' data (C8)."""

import pytest
import torch

from depthstudy import experiment, models
from depthstudy.data.factory import build_dataset
from depthstudy.data.synthrooms import SynthRooms
from depthstudy.profiles import get_profile
from depthstudy.studies import cliffnet as cf
from depthstudy.studies import pretraining


@pytest.fixture
def profile(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPTHSTUDY_CACHE", str(tmp_path / "cache"))
    return get_profile("smoke").replace(height=16, width=24, train_scenes=3, test_scenes=2, val_scenes=2,
                                        views_per_scene=2, batch_size=2, device="cpu", pretrained="synthrooms",
                                        pretrain_scenes=2, pretrain_steps=2, heg_scenes=2, heg_views=4)


def test_splits_never_share_a_scene(profile):
    ids = {split: set(build_dataset(profile, split).scene_ids) for split in ("train", "test", "val", "pretrain")}
    assert ids == {"train": {0, 1, 2}, "test": {3, 4}, "val": {5, 6}, "pretrain": {7, 8}}


def test_validation_views_do_not_change_the_training_and_test_pixels(profile, tmp_path):
    kw = dict(height=16, width=24, train_scenes=3, test_scenes=2, views_per_scene=2, cache=False)
    for split in ("train", "test"):
        a, b = SynthRooms(split, **kw), SynthRooms(split, val_scenes=2, pretrain_scenes=3, **kw)
        assert torch.equal(a[1]["image"], b[1]["image"]) and torch.equal(a[1]["depth"], b[1]["depth"])


def test_split_without_scenes_is_a_clear_error(profile):
    with pytest.raises(ValueError, match="val_scenes > 0"):
        build_dataset(profile.replace(val_scenes=0), "val")
    with pytest.raises(ValueError, match="pretrain_scenes >= 1"):
        pretraining.trunk_file(profile.replace(pretrain_scenes=0))


def test_models_start_from_the_pretrained_trunk(profile):
    path = pretraining.trunk_file(profile)
    trunk = torch.load(path, weights_only=True)
    assert pretraining.trunk_file(profile) == path  # trained once, then reused
    net = models.from_profile("cliffnet", profile)
    assert all(torch.equal(net.backbone.state_dict()[k], v) for k, v in trunk.items())
    scratch = models.from_profile("cliffnet", profile.replace(pretrained=""))
    assert not torch.equal(scratch.backbone.conv1.weight, net.backbone.conv1.weight)


def test_pretraining_settings_reach_every_run_key(profile):
    variant = cf.loss_variants(profile, scene_classes=3)["l1"]
    keys = {experiment.run_key(p, variant, 0) for p in (profile, profile.replace(pretrain_steps=3),
                                                        profile.replace(pretrain_scenes=3))}
    assert len(keys) == 3


def test_hegs_classify_their_own_scenes_with_more_views(profile):
    train = build_dataset(profile, "train", family="cliffnet")
    data = cf.heg_task_data("heg_s", profile, train)
    assert sorted(set(data.scene_ids)) == [0, 1] and len(data) == 2 * 4
    assert torch.equal(data[1]["depth"], train[1]["depth"])  # the same cameras first, then more
    assert cf.heg_task_data("heg_r", profile, train) is train
    assert cf.heg_task_data("heg_s", profile.replace(heg_scenes=0), train) is train
    assert cf.heg_lr(profile.replace(heg_lr=3e-4), "heg_s") == 3e-4
    assert cf.heg_lr(profile.replace(heg_lr=3e-4), "heg_r") != 3e-4
