"""depthstudy.studies.jiao: variant tables, relative gains, gain tables, weak split."""


import matplotlib
import pandas as pd
import pytest
import torch

matplotlib.use("Agg")

from depthstudy import results
from depthstudy.profiles import get_profile
from depthstudy.studies import jiao


def tidy(entries):
    """[(variant, seed, metric, value)] -> tidy metrics frame (depth range all, 10 images)."""
    return pd.DataFrame([{"variant": v, "seed": s, "depth_range": "all", "metric": m, "value": x,
                          "n_images": 10} for v, s, m, x in entries])


class TinySet(torch.utils.data.Dataset):
    """Images that encode their own labels: channel 0 = class / 3, depth = 1 + 4 * channel 1."""

    def __init__(self, n=4, h=32, w=32, classes=4):
        g = torch.Generator().manual_seed(0)
        self.items = []
        for i in range(n):
            sem = torch.randint(0, classes, (h, w), generator=g)
            img = torch.rand(3, h, w, generator=g)
            img[0] = sem.float() / 3
            depth = 1.0 + 4.0 * img[1:2]
            self.items.append(dict(image=img, depth=depth, raw_depth=depth.clone(), semantic=sem,
                                   scene=i // 2, index=i))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


class Oracle(torch.nn.Module):
    """Reads the labels back from the image: perfect semantics, depth off by +0.5 m."""

    def __init__(self, outputs):
        super().__init__()
        self.outputs = outputs
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, image):
        out = {}
        if "semantic" in self.outputs:
            out["semantic"] = torch.nn.functional.one_hot((image[:, 0] * 3).round().long(), 4
                                                          ).permute(0, 3, 1, 2).float()
        if "depth" in self.outputs:
            out["depth"] = 1.5 + 4.0 * image[:, 1:2]
        return out


@pytest.fixture
def profile(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPTHSTUDY_CACHE", str(tmp_path / "cache"))
    return get_profile("smoke", steps=2, batch_size=2, height=32, width=32, device="cpu",
                       eval_batch_size=2)


def test_relative_gains_hand_computed():
    rows = tidy([("single_depth", 0, "rmse", 0.5), ("single_depth", 1, "rmse", 0.4),
                 ("single_semantic", 0, "miou", 0.5), ("single_semantic", 1, "miou", 0.4),
                 ("branch", 0, "rmse", 0.36), ("branch", 1, "rmse", 0.3),
                 ("branch", 0, "miou", 0.55), ("branch", 1, "miou", 0.38),
                 ("finetune_sd", 0, "rmse", 0.75), ("finetune_ds", 0, "miou", 0.45)])
    sources = jiao.gain_sources(sorted(rows["variant"].unique()))
    assert sources == {"branch": {"rmse": "branch", "miou": "branch"},
                       "finetune": {"rmse": "finetune_sd", "miou": "finetune_ds"}}
    gains = jiao.relative_gain_rows(rows, sources).set_index(["variant", "seed", "metric"])["value"]
    assert gains["branch", 0, "rmse_rel_gain"] == pytest.approx(0.28)
    assert gains["branch", 1, "rmse_rel_gain"] == pytest.approx(0.25)
    assert gains["branch", 0, "miou_rel_gain"] == pytest.approx(0.1)
    assert gains["branch", 1, "miou_rel_gain"] == pytest.approx(-0.05)
    assert gains["finetune", 0, "rmse_rel_gain"] == pytest.approx(-0.5)
    assert gains["finetune", 0, "miou_rel_gain"] == pytest.approx(-0.1)
    assert ("finetune", 1, "rmse_rel_gain") not in gains.index  # no seed-1 fine-tuned run


def test_relative_gains_need_baseline():
    with pytest.raises(KeyError, match="single_depth"):
        jiao.relative_gain_rows(tidy([("branch", 0, "rmse", 0.3)]), {"branch": {"rmse": "branch"}})


def test_gain_table_against_paper():
    rows = tidy([("branch", s, "rmse_rel_gain", g) for s, g in enumerate([0.2, 0.25, 0.22])]
                + [("cascade_ds", s, "rmse_rel_gain", g) for s, g in enumerate([-0.2, -0.25, -0.22])]
                + [("merge", s, "miou_rel_gain", g) for s, g in enumerate([0.1, -0.1, 0.02])])
    table = jiao.gain_table(rows, "structures").set_index(["variant", "metric"])
    assert table.loc[("branch", "rmse_rel_gain"), "paper"] == pytest.approx(0.28)
    assert table.loc[("cascade_ds", "rmse_rel_gain"), "paper"] == pytest.approx(0.03)
    assert table.loc[("merge", "miou_rel_gain"), "mean"] == pytest.approx(0.02 / 3)
    assert "verdict" not in table.columns  # verdicts come from the evidence layer only


def test_variant_tables_use_canonical_names():
    structures = set(jiao.structure_variants()) | {s.name for f in jiao.TASKS for s in jiao.finetune_stages(f)}
    assert set(jiao.gain_sources(sorted(structures))) == set(results.PAPER_STUDIES["structures"]["variants"])
    assert set(jiao.gain_sources(sorted(jiao.branch_split_variants()))) == set(
        results.PAPER_STUDIES["branch_split"]["variants"])
    attention = jiao.attention_variants()
    assert set(results.PAPER_STUDIES["attention_loss"]["variants"]) <= set(attention)
    assert set(jiao.RANGE_SOURCES.values()) <= set(attention)
    assert {"synergy_4c", "synergy_40c", "synergy_depth_only"} <= set(jiao.RANGE_SOURCES)
    assert attention["synergy_da_semf_jg"].loss == {"da": 1.0, "focal": 1.0, "jg": 1.0}
    assert all(v.classes == 4 for v in jiao.structure_variants().values())
    assert jiao.weak_variants()["weak_alternate"].train == {"task_schedule": "alternate"}
    with pytest.raises(ValueError, match="first"):
        jiao.finetune_stages("scene")


def test_split_by_scene_is_disjoint_and_deterministic():
    depth, semantic = jiao.split_by_scene([3, 3, 1, 1, 2, 7])
    assert (depth, semantic) == ([0, 1, 2, 3], [4, 5])  # scenes 1, 3 | 2, 7
    with pytest.raises(ValueError, match="2 scene"):
        jiao.split_by_scene([5, 5])


def test_label_subset_blanks_the_other_label():
    base = TinySet()
    d = jiao.LabelSubset(base, [1, 3], "depth")
    s = jiao.LabelSubset(base, [0], "semantic")
    assert len(d) == 2 and d[1]["index"] == 3
    assert torch.equal(d[0]["depth"], base[1]["depth"])
    assert bool((d[0]["semantic"] == 255).all())
    assert torch.equal(s[0]["semantic"], base[0]["semantic"])
    assert float(s[0]["depth"].abs().sum()) == 0.0 and float(s[0]["raw_depth"].abs().sum()) == 0.0
    assert float(base[0]["depth"].min()) >= 1.0  # the base set is untouched
    with pytest.raises(IndexError):
        jiao.LabelSubset(base, [4], "depth")
    split = jiao.weak_split(base)
    assert (len(split.depth_only), len(split.semantic_only)) == (2, 2)
    assert (split.depth_scenes, split.semantic_scenes) == (1, 1)


def test_evaluate_tasks_semantic_only_and_depth(profile):
    data = TinySet()
    metrics, n = jiao.evaluate_tasks(profile, Oracle(("semantic",)), data, classes=4)
    assert n == 4 and set(metrics) == {"miou", "pixel_acc"}
    assert metrics["miou"] == pytest.approx(1.0) and metrics["pixel_acc"] == pytest.approx(1.0)
    metrics, _ = jiao.evaluate_tasks(profile, Oracle(("depth", "semantic")), data, classes=4,
                                     tasks=("depth",))
    assert "miou" not in metrics
    assert metrics["rmse"] == pytest.approx(0.5, abs=1e-5)
    with pytest.raises(ValueError, match="none of the tasks"):
        jiao.evaluate_tasks(profile, Oracle(("depth",)), data, classes=4, tasks=("semantic",))


def test_finetune_trains_both_stages_and_records_second_task(profile, tmp_path):
    data = TinySet()
    writer = results.StudyWriter("structures", profile.name, root=tmp_path / "res", dataset="tiny",
                                 protocol=profile.protocol, params={})
    model, metrics = jiao.run_finetune(profile, "depth", 0, data, data, study="structures", writer=writer)
    assert model.stage == "semantic" and set(metrics) == {"miou", "pixel_acc"}
    stage1, stage2 = jiao.finetune_stages("depth")
    from depthstudy import experiment
    for stage in (stage1, stage2):
        assert (experiment.run_dir(profile, "structures", stage, 0) / "last.pt").is_file()
    assert set(writer.rows["variant"]) == {"finetune_ds"}


def test_plot_metric_vs_range():
    summary = pd.DataFrame([{"variant": v, "depth_range": r, "metric": "rmse", "mean": m, "std": 0.01}
                            for v in ("a", "b") for r, m in (("<4m", 0.3), ("<8m", 0.4), ("all", 0.5))])
    fig = jiao.plot_metric_vs_range(summary, ["rmse"], title="t")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["<4m", "<8m", "all"]
    assert len(ax.lines) >= 2
    assert ax.get_legend() is None and len(fig.legends) == 1  # legend off the data (Decision X23)
    assert ax.get_ylabel() == "rmse [m]" and ax.get_xlabel() == "GT depth range [m]"


def test_merge_row_is_trained_from_the_single_task_runs(tmp_path, monkeypatch):
    """Decision J19: the merge run's key names its sub-networks' runs, whose weights it starts from."""
    import dataclasses

    from depthstudy import experiment
    from depthstudy.data.factory import build_dataset
    from depthstudy.profiles import get_profile
    from depthstudy.studies import jiao

    monkeypatch.setenv("DEPTHSTUDY_CACHE", str(tmp_path))
    prof = get_profile("smoke").replace(height=24, width=32, train_scenes=2, test_scenes=1, steps=2,
                                        batch_size=2, device="cpu")
    train = build_dataset(prof, "train", classes=jiao.STRUCTURE_CLASSES)
    merge = jiao.structure_variants()["merge"]
    keyed, model = jiao.merge_from_singles(prof, merge, 0, train, study=jiao.STRUCTURE_STUDY)
    single = experiment.obtain_run(prof, jiao.STRUCTURE_STUDY, jiao.single_task_variants()["single_depth"], 0)
    assert torch.equal(model.heads["depth"].weight, single.net.head.weight)
    assert set(keyed.data["sub_networks"]) == {"depth", "semantic"}
    other = dataclasses.replace(merge, data={**merge.data, "sub_networks": {"depth": "x", "semantic": "y"}})
    assert experiment.run_key(prof, keyed, 0) != experiment.run_key(prof, other, 0)
