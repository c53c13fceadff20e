"""Evidence layer: paired verdicts, premises, seeds needed, claims data, baselines, real pairing."""

import json
import math

import pandas as pd
import pytest
import torch

from depthstudy import experiment
from depthstudy.engine.sampling import ShardedBatchSampler
from depthstudy.profiles import get_profile
from depthstudy.results import baselines, claims, evidence, premises


def _rows(values: dict[str, list[float]], study="loss_comparison", metric="rmse") -> pd.DataFrame:
    return pd.DataFrame([{"study": study, "variant": v, "seed": s, "dataset": "synthrooms",
                          "protocol": "synthetic", "depth_range": "all", "metric": metric, "value": x,
                          "n_images": 10} for v, xs in values.items() for s, x in enumerate(xs)])


def _call(rows, direction="lower", paper_pct=-5.0, failed=""):
    p = evidence.paired(rows, "loss_comparison", "rmse", {"a": 1.0, "b": -1.0}, "b")
    return p, evidence.verdict(p.interval(), direction, paper_effect=paper_pct / 100 * p.reference_mean,
                               premise_failed=failed)


def test_small_paired_spread_large_seed_spread_is_supported():
    # seeds differ by 0.3 m, but a is 0.02 m lower than b in every seed (+- 0.002)
    rows = _rows({"a": [0.50, 0.80, 1.10, 0.65], "b": [0.52, 0.818, 1.122, 0.671]})
    p, call = _call(rows)
    assert call == "supported"
    assert p.n == 4 and p.mean == pytest.approx(-0.02025)
    # the old rule (|diff of means| > 2 x pooled seed std) could not call it
    a, b = rows[rows.variant == "a"].value, rows[rows.variant == "b"].value
    assert abs(a.mean() - b.mean()) < 2 * math.sqrt((a.std() ** 2 + b.std() ** 2) / 2)
    assert _call(rows, direction="higher")[1] == "contradicted"


def test_failed_premise_is_not_tested():
    rows = _rows({"a": [0.50, 0.80, 1.10], "b": [0.52, 0.82, 1.12]})
    assert _call(rows, failed="depth model beats constant predictor")[1] == "not tested"


def test_tight_interval_around_zero_is_no_effect_of_the_papers_size():
    rows = _rows({"a": [1.001, 0.999, 1.0005, 0.9995], "b": [1.0, 1.0, 1.0, 1.0]})
    assert _call(rows, paper_pct=-5.0)[1] == "no effect of the paper's size"
    # the same interval cannot rule out an effect of 0.1%: inconclusive
    assert _call(rows, paper_pct=-0.1)[1] == "inconclusive"


def test_equal_claims_use_their_margin():
    ci = (-0.01, 0.01)
    assert evidence.verdict(ci, "equal", margin=0.02) == "supported"
    assert evidence.verdict((0.03, 0.05), "equal", margin=0.02) == "contradicted"
    assert evidence.verdict((-0.01, 0.03), "equal", margin=0.02) == "inconclusive"
    with pytest.raises(ValueError, match="margin"):
        evidence.verdict(ci, "equal")


def test_seeds_needed_matches_a_hand_computation():
    # sd 0.02, effect 0.02: t_{n-1} / sqrt(n) < 1 first at n = 7 (t_5 = 2.571 / 2.449 = 1.05;
    # t_6 = 2.447 / 2.646 = 0.925)
    assert evidence.seeds_needed(0.02, 0.02) == 7
    assert evidence.seeds_needed(0.02, -0.02) == 7
    # sd 0.01, effect 0.02: n = 4 gives 3.182 * 0.01 / 2 = 0.0159 < 0.02, n = 3 gives 0.0248
    assert evidence.seeds_needed(0.01, 0.02) == 4
    assert math.isnan(evidence.seeds_needed(0.01, math.nan))


def test_pairing_uses_common_seeds_only():
    rows = _rows({"a": [1.0, 2.0, 3.0], "b": [1.5, 2.5]})
    p = evidence.paired(rows, "loss_comparison", "rmse", {"a": 1.0, "b": -1.0}, "b")
    assert list(p.diffs.index) == [0, 1] and p.diffs.tolist() == [-0.5, -0.5]
    assert p.rel_effect_pct == pytest.approx(100 * -0.5 / 2.0)


def test_paired_table_reads_without_claims():
    rows = _rows({"a": [0.50, 0.80, 1.10], "b": [0.52, 0.82, 1.125]})
    table = evidence.paired_table(rows, [("a", "b")], ["rmse"])
    assert table.loc[0, "reading"] == "better" and table.loc[0, "n_seeds"] == 3


def test_compound_claims_count_their_parts():
    table = pd.DataFrame({"claim_id": ["x", "x", "x"], "paper": "p", "claim": "c",
                          "verdict": ["supported", "supported", "inconclusive"]})
    line = evidence.compound_summary(table).iloc[0]
    assert line["summary"] == "2 of 3 supported, 1 inconclusive" and line["n_comparisons"] == 3


def test_claims_file_loads_with_enough_comparisons_of_both_papers():
    comps = claims.load()
    tested = [c for c in comps if not c.not_tested]
    assert len(tested) >= 30
    assert {c.paper for c in tested} == {"jiao", "cliffnet"}
    assert any(c.not_tested for c in comps)


def test_bad_claims_file_names_the_problem(tmp_path):
    path = tmp_path / "claims.yaml"
    path.write_text("claims:\n  - {id: x, paper: jiao, source: s, claim: c, comparisons: "
                    "[{id: y, study: s, metric: rmse, a: p, b: q, direction: sideways}]}\n")
    with pytest.raises(ValueError, match="claims.yaml.*direction"):
        claims.load(path)


def test_paper_effect_from_gain_tables():
    table = pd.DataFrame({"variant": ["finetune", "branch"], "metric": ["rmse_rel_gain"] * 2,
                          "depth_range": ["all"] * 2, "value": [-0.54, 0.28]})
    assert claims.paper_value(table, "single_depth", "rmse", "all") == 1.0
    assert claims.paper_value(table, "finetune", "rmse", "all") == pytest.approx(1.54)
    comp = next(c for c in claims.load() if c.id == "J-T1-finetune-depth")
    assert claims.paper_effect_pct(comp) == pytest.approx(54.0)


def test_premises_fail_on_constant_level_models_and_untrained_hegs():
    rows = _rows({"heg_s": [0.86, 0.87, 0.85], "l1": [0.60, 0.61, 0.62]})
    base = _rows({"const_median": [0.87], "heg_s_majority": [0.004], "heg_s_chance": [0.004],
                  "heg_im_majority": [0.3], "heg_im_chance": [0.125], "heg_r_block_mean": [0.03]},
                 study="baselines")
    base.loc[base.variant.str.startswith("heg_s") | base.variant.str.startswith("heg_im"), "metric"] = "val_accuracy"
    base.loc[base.variant == "heg_r_block_mean", "metric"] = "val_l1"
    heg = pd.concat([_rows({"heg_s": [0.005] * 3}, study="heg_training", metric="val_accuracy"),
                     _rows({"heg_im": [0.6] * 3}, study="heg_training", metric="val_accuracy"),
                     _rows({"heg_r": [0.02] * 3}, study="heg_training", metric="val_l1")])
    hegs = premises.heg_checks(heg, base).set_index("variant")["passed"]
    assert not hegs["heg_s"] and hegs["heg_im"] and hegs["heg_r"]
    failed = premises.failures(rows, base, premises.heg_checks(heg, base), "loss_comparison",
                               ["heg_s", "l1"], "rmse", 5)
    assert len(failed) == 2 and failed[0].startswith("depth model beats constant predictor: heg_s")
    assert "heg_s learned its task" in failed[1]
    assert premises.failures(rows, base, premises.heg_checks(heg, base), "loss_comparison", ["l1"], "rmse",
                             2) == ["at least 5 seeds: 2 paired"]


def test_baselines_by_hand():
    train = torch.tensor([[[[1.0, 3.0], [0.0, 5.0]]], [[[3.0, 5.0], [2.0, 0.0]]]])  # 0 = invalid
    test = torch.tensor([[[[2.0, 4.0], [2.0, 4.0]]]])
    out = baselines.depth_baselines(train, test, "synthetic")
    assert out["const_median"]["rmse"] == pytest.approx(1.0)          # median 3 (torch: lower median)
    assert out["position_mean"]["rmse"] == pytest.approx(0.5)         # means 2, 4, 2, 5 -> errors 0, 0, 0, 1
    assert baselines.block_mean_l1(torch.tensor([[[[1.0, 3.0, 5.0, 7.0], [1.0, 3.0, 5.0, 7.0]]]])) == pytest.approx(1.0)
    assert baselines.block_mean_l1(torch.tensor([[[[1.0, 3.0], [1.0, 3.0]]]])) == pytest.approx(0.0)
    labels = torch.tensor([[[0, 1], [1, 1]], [[0, 1], [1, 255]]])
    sem = baselines.semantic_baselines(labels, labels, 2)
    assert sem["position_majority_2c"]["pixel_acc"] == pytest.approx(1.0)
    acc = baselines.classification_baselines([0, 0, 1, 1, 1], [0, 1, 2, 3], [4], 2)
    assert acc == {"chance": 0.5, "majority": 0.0}


def test_same_seed_same_shared_init_and_data_order_across_variants():
    prof = get_profile("smoke")
    l1, grad = experiment.Variant("l1", "cliffnet", loss="l1"), experiment.Variant("grad", "cliffnet", loss="grad")
    a, b = (experiment.build_variant_model(prof, v, seed=3).state_dict() for v in (l1, grad))
    assert all(torch.equal(a[k], b[k]) for k in a)
    cliff, wo_att = (experiment.build_variant_model(prof, experiment.Variant(n, "cliffnet", {"variant": n}), 3)
                     .state_dict() for n in ("cliff", "wo_att"))
    shared = [k for k in cliff if k.startswith("backbone") and k in wo_att]
    assert shared and all(torch.equal(cliff[k], wo_att[k]) for k in shared)
    other = experiment.build_variant_model(prof, l1, seed=4).state_dict()
    assert not all(torch.equal(a[k], other[k]) for k in a)
    seeds = [experiment.train_config(prof, 3, **v.train).seed for v in (l1, grad)]
    assert seeds == [3, 3]   # the data order depends on the run's seed only (engine.sampling)
    orders = [[ShardedBatchSampler(40, 4, seed=s).global_batch(k) for k in range(12)] for s in seeds]
    assert orders[0] == orders[1]
    assert orders[0] != [ShardedBatchSampler(40, 4, seed=4).global_batch(k) for k in range(12)]


def _write(root, study, rows, protocol="synthetic"):
    """rows: (variant, seed, metric, value[, protocol])."""
    from depthstudy import results

    writer = results.StudyWriter(study, "cpu", root=root, dataset="synthrooms", protocol=protocol, params={})
    for variant, seed, metric, value, *own in rows:
        writer.add(variant, seed, {metric: value}, n_images=4, protocol=own[0] if own else None)
    writer.finish()


@pytest.mark.parametrize("heg_r_l1,expected", [(0.01, "supported"), (0.05, "not tested")])
def test_claims_table_end_to_end(tmp_path, heg_r_l1, expected):
    _write(tmp_path, "loss_comparison", [(v, s, "rmse", x) for v, xs in
                                         {"l1": [0.50, 0.60, 0.55, 0.52, 0.58],
                                          "heg_r": [0.48, 0.585, 0.53, 0.50, 0.565]}.items()
                                         for s, x in enumerate(xs)])
    _write(tmp_path, "heg_training", [("heg_r", 0, "val_l1", heg_r_l1)], "heg_validation")
    _write(tmp_path, "baselines", [("const_median", 0, "rmse", 0.9),
                                   ("heg_r_block_mean", 0, "val_l1", 0.03, "heg_validation")])
    table = evidence.claims_table("cpu", root=tmp_path, compute_baselines=False)
    assert list(table.columns) == claims.TABLE_COLUMNS
    row = table.set_index("comparison_id").loc["C-T5-hegr-vs-l1"]
    assert row["verdict"] == expected and row["n_seeds"] == 5
    assert row["mean_diff"] == pytest.approx(-0.09 / 5)
    assert row["paper_rel_effect_pct"] == pytest.approx(100 * (0.497 - 0.529) / 0.529)   # Table 5
    assert (row["premise"] == "passed") == (expected == "supported")
    assert row["budget"] == "120 steps x batch 8, HEGs 3000 steps" and row["protocol"] == "synthetic"
    other = table.set_index("comparison_id").loc["C-T5-hegs-vs-l1"]
    assert other["verdict"] == "not tested" and other["premise"].startswith("no run of heg_s")
    assert not table[table["verdict"].isin(["supported", "contradicted"]) & (table["premise"] != "passed")].shape[0]


def test_claims_name_variants_the_studies_train():
    from depthstudy.studies import cliffnet as cf
    from depthstudy.studies import jiao

    structures = set(jiao.structure_variants()) | {s.name for t in jiao.TASKS for s in jiao.finetune_stages(t)}
    known = {"structures": structures, "branch_split": set(jiao.branch_split_variants()),
             "attention_loss": set(jiao.attention_variants()), "depth_range": set(jiao.RANGE_SOURCES),
             "loss_comparison": set(cf.LOSS_NAMES), "cliff_ablation": set(cf.CLIFF_VARIANTS)}
    for comp in claims.load():
        if comp.study in known:
            assert set(comp.variants) <= known[comp.study], (comp.id, comp.variants)


def test_baselines_study_on_smoke(tmp_path):
    folder = baselines.run("smoke", root=tmp_path)
    rows = pd.read_csv(folder / "metrics.csv")
    expected = {"const_mean", "const_median", "position_mean", "majority_4c", "position_majority_4c",
                "majority_40c", "position_majority_40c", "heg_s_chance", "heg_s_majority", "heg_im_chance",
                "heg_im_majority", "heg_r_block_mean"}
    assert set(rows["variant"]) == expected and (folder / "run.json").is_file()
    rmse = rows[rows.metric == "rmse"].set_index("variant")["value"]
    assert rmse["position_mean"] > 0 and rmse["const_median"] > 0
    assert baselines.ensure("smoke", root=tmp_path) == folder
    record = folder / "run.json"
    first = record.stat().st_mtime_ns
    assert baselines.ensure("smoke", root=tmp_path) == folder and record.stat().st_mtime_ns == first  # reused
    stale = json.loads(record.read_text())
    stale["params"]["height"] = 72  # a folder of an older profile definition
    record.write_text(json.dumps(stale))
    baselines.ensure("smoke", root=tmp_path)
    assert json.loads(record.read_text())["params"]["height"] == get_profile("smoke").height  # recomputed
