"""CLIFFNet study tables, view splits, HEG training/caching and the protocol-sensitivity scoring."""

import pandas as pd
import pytest
import torch

from depthstudy.losses.hierarchical import load_heg
from depthstudy.profiles import get_profile
from depthstudy.studies import cliffnet as cf


class TinyRooms(torch.utils.data.Dataset):
    """8 items of 2 scenes (ids 5 and 9, types a/b), 16x16, depth = 1 + scene-dependent ramp."""

    def __init__(self):
        self.scene_ids = [5, 5, 5, 5, 9, 9, 9, 9]
        self.item_scene_types = ["a"] * 4 + ["b"] * 4

    def __len__(self):
        return 8

    def __getitem__(self, i):
        s = self.scene_ids[i]
        ramp = torch.linspace(1.0, 2.0 + (s == 9) * 3.0, 16)
        depth = ramp.view(1, 1, 16).expand(1, 16, 16).clone() + 0.01 * i
        return {"image": depth.expand(3, 16, 16) / 6.0, "depth": depth, "raw_depth": depth,
                "scene": s, "scene_type": self.item_scene_types[i], "index": i}


def test_split_views_and_labels():
    train, val = cf.split_views([0, 0, 0, 0, 1, 1, 2], val_fraction=0.25)
    assert (train, val) == ([0, 1, 2, 4, 6], [3, 5])
    assert cf.scene_label_map([9, 5, 2, 5]) == {2: 0, 5: 1, 9: 2}
    assert cf.item_scenes(TinyRooms()) == [5, 5, 5, 5, 9, 9, 9, 9]
    relabelled = cf.SceneRelabelled(TinyRooms())
    assert relabelled.num_classes == 2 and [relabelled[i]["scene"] for i in (0, 7)] == [0, 1]
    with pytest.raises(ValueError, match="val_fraction"):
        cf.split_views([0, 1], 1.5)


def test_variant_tables_follow_the_paper():
    smoke, cpu = get_profile("smoke"), get_profile("cpu")
    table = cf.loss_variants(cpu, scene_classes=48)
    assert tuple(table) == cf.LOSS_NAMES
    assert dict(table["grad"].loss) == {"l1": 1.0, "grad": 2.0}
    assert table["mt"].model_options["scene_classes"] == 48
    heg = table["heg_s"].loss_options
    assert heg["layers"] == (2, 4) and heg["weights"] == (1.0, 10.0, 15.0)
    assert cf.warmup_steps(cpu) == cpu.steps // 10 and cf.warmup_steps(smoke) == 1
    assert cf.warmup_steps(get_profile("nyu")) == 100
    assert cf.heg_lr(cpu, "heg_s") == pytest.approx(cpu.heg_lr)  # chosen on held-out views (Decision C8)
    assert cf.heg_lr(cpu.replace(heg_lr=0.0), "heg_s") == pytest.approx(1e-2)  # else the scaled paper lr (C7)
    assert cf.heg_lr(get_profile("nyu"), "heg_r") == pytest.approx(1e-4)
    ablations = cf.ablation_variants(cpu)
    assert tuple(ablations) == cf.CLIFF_VARIANTS and ablations["wo_id"].model_options["variant"] == "wo_id"
    assert cf.candidate_label((2, 4)) == "L0+2+4" and cf.candidate_label(()) == "L0"
    with pytest.raises(ValueError, match="scene_classes"):
        cf.loss_variants(cpu, 0)


def test_task_set_inputs():
    ds = TinyRooms()
    depth_task = cf.TaskSet(ds, [1, 6], [0, 0, 0, 0, 1, 1, 1, 1], source="depth")
    item = depth_task[1]
    assert item["scene"] == 1 and item["index"] == 6 and torch.equal(item["image"], ds[6]["depth"])
    assert cf.TaskSet(ds, [0], [0] * 8, source="image")[0]["image"].shape == (3, 16, 16)


@pytest.fixture
def tiny_profile(monkeypatch, tmp_path):
    monkeypatch.setenv("DEPTHSTUDY_CACHE", str(tmp_path))
    return get_profile("smoke").replace(height=16, width=16, batch_size=2, heg_steps=3, device="cpu")


def test_heg_training_is_cached_and_loadable(tiny_profile):
    ds = TinyRooms()
    run = cf.train_heg_s(tiny_profile, ds, seed=0)
    assert run.path.is_file() and run.metrics["chance_accuracy"] == 0.5 and run.metrics["n_classes"] == 2
    assert 0.0 <= run.metrics["val_accuracy"] <= 1.0 and len(run.history) >= 1
    again = cf.train_heg_s(tiny_profile, ds, seed=0)
    assert again.metrics == run.metrics
    assert all(torch.equal(a, b) for a, b in zip(again.model.state_dict().values(), run.model.state_dict().values()))
    assert isinstance(load_heg(run.path), torch.nn.Module)
    im = cf.train_heg_im(tiny_profile, ds, seed=0)
    assert im.model.in_channels == 1 and im.model.convs[0][0].weight.shape[1] == 1
    assert len(im.model.embed(torch.ones(1, 1, 16, 16), (2, 4))) == 2
    recon = cf.train_heg_r(tiny_profile, ds, seed=0)
    assert recon.metrics["val_l1"] > 0 and not any(p.requires_grad for p in recon.model.parameters())
    rn = cf.heg_for("heg_rn", tiny_profile, ds, seed=3)
    assert torch.equal(rn.convs[0][0].weight, cf.heg_for("heg_rn", tiny_profile, ds, seed=3).convs[0][0].weight)


def test_score_protocols_and_sensitivity_table():
    gt_net = torch.full((2, 1, 24, 32), 2.0)
    gt_full = torch.full((2, 1, 48, 64), 2.0)
    pred = torch.full((2, 1, 24, 32), 2.2)
    gts = {"network": {"depth": gt_net, "raw_depth": gt_net}, "full": {"depth": gt_full, "raw_depth": gt_full}}
    scores = cf.score_protocols(pred, gts)
    assert len(scores) == 4 * 2 * 2
    assert scores["abs_rel"].tolist() == pytest.approx([0.1] * 16)
    assert scores["rmse"].tolist() == pytest.approx([0.2] * 16, rel=1e-5)
    rows = [{"study": "protocol_sensitivity", "variant": f"heg_s.{r.resolution}.{r.aggregate}",
             "dataset": "synthrooms", "protocol": r.protocol, "depth_range": "all", "metric": m,
             "mean": getattr(r, m) + (0.05 if r.protocol == "bts" else 0.0), "std": 0.0, "n_seeds": 1,
             "paper": float("nan")}
            for r in scores.itertuples() for m in ("rmse", "abs_rel", "delta1")]
    table = cf.sensitivity_table(pd.DataFrame(rows))
    assert table.loc[cf.REFERENCE, "rmse_change"] == 0.0
    assert table.loc[("bts", "full", "pixel"), "rmse_change"] == pytest.approx(0.05)
    assert table.loc[("eigen", "network", "image"), "abs_rel_change"] == pytest.approx(0.0, abs=1e-9)
