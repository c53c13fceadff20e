"""The budget-sensitivity study (Decision S15): scaled runs, names, run keys, claims at every budget."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from depthstudy import experiment, runner, viz
from depthstudy.profiles import get_profile
from depthstudy.results import claims, premises
from depthstudy.studies import budget, jiao, specs
from depthstudy.studies import cliffnet as cf


def test_scaled_changes_steps_only():
    prof = get_profile("cpu")
    assert budget.scaled(prof, 1.0) is prof
    quarter, four = budget.scaled(prof, 0.25), budget.scaled(prof, 4.0)
    assert (quarter.steps, four.steps) == (30, 480)
    assert {k: v for k, v in four.as_dict().items() if k != "steps"} == \
        {k: v for k, v in prof.as_dict().items() if k != "steps"}
    assert budget.scaled(get_profile("smoke").replace(steps=2), 0.25).steps == 1
    for bad in (0, -1.0, float("nan"), "4"):
        with pytest.raises(ValueError, match="budget factor"):
            budget.scaled(prof, bad)


def test_variant_names_round_trip_and_unknown_names_list_the_valid_ones():
    names = budget.variants()
    assert len(names) == len(budget.FACTORS) * len(budget.FOLLOWED) == len(set(names))
    assert budget.variant_name("heg_s", 4.0) == "heg_s_x4" and budget.variant_name("l1", 0.25) == "l1_x0.25"
    assert all(budget.variant_name(*budget.split_variant(n)) == n for n in names)
    assert budget.split_variant("synergy_no_attention_x0.25") == ("synergy_no_attention", 0.25)
    with pytest.raises(ValueError, match="valid: l1_x0.25"):
        budget.split_variant("l1_x3")
    with pytest.raises(ValueError, match="not followed"):
        budget.variant_name("grad", 1.0)
    assert set(budget.FOLLOWED.values()) <= set(specs.STUDIES)
    assert specs.get_study(budget.STUDY).variants == names


def test_factor_one_runs_are_the_owning_studies_runs_and_hegs_do_not_move():
    """Same run key at factor 1 (reused from notebooks 04 and 09); other factors differ only by
    their schedule; the HEG a hierarchical loss uses is the same run at every factor."""
    prof = get_profile("cpu")
    heg_s = cf.loss_variants(prof, scene_classes=240)["heg_s"]
    synergy = jiao.attention_variants()["synergy_da_semf_jg"]
    for variant in (heg_s, synergy):
        keys = {f: experiment.run_key(budget.scaled(prof, f), variant, 0) for f in budget.FACTORS}
        assert keys[1.0] == experiment.run_key(prof, variant, 0)
        assert len(set(keys.values())) == len(budget.FACTORS)
    four = budget.scaled(prof, 4.0)
    assert cf.loss_variants(four, scene_classes=240)["heg_s"].loss_options["warmup_steps"] == 48
    assert experiment.train_config(four, 0).lr_decay_steps == (360,)
    heg = cf.heg_variant(prof, "heg_s", 64)
    assert experiment.run_dir(four, cf.HEG_STUDY, heg, 0) == experiment.run_dir(prof, cf.HEG_STUDY, heg, 0)


def test_train_one_records_the_owning_studys_row_under_the_budget_name(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPTHSTUDY_CACHE", str(tmp_path / "cache"))
    prof = get_profile("smoke")
    rows = specs.train_variant(budget.STUDY, "l1_x0.25", prof, 0)
    owner = specs.train_variant("loss_comparison", "l1", budget.scaled(prof, 0.25), 0)  # reused, not retrained
    assert set(rows["variant"]) == {"l1_x0.25"} and set(rows["study"]) == {budget.STUDY}
    assert rows["rmse"].tolist() == owner["rmse"].tolist()
    logs = list((tmp_path / "cache").rglob("trainings.jsonl"))
    assert len(logs) == 1 and len(logs[0].read_text().splitlines()) == 1


def test_claims_marked_budgets_are_decided_at_every_factor():
    loaded = {c.id: c for c in claims.load()}
    for main in ("C-T5-hegs-vs-l1", "C-T5-hegr-vs-l1", "C-T5-da-vs-l1", "J-T8-full-vs-none"):
        comp = loaded[main]
        for factor in budget.FACTORS:
            at = loaded[f"{main}-x{factor:g}"]
            assert at.study == budget.STUDY and at.paper_study == comp.study and at.budget_factor == factor
            assert at.variants == [budget.variant_name(v, factor) for v in comp.variants]
            assert claims.paper_effect_pct(at) == pytest.approx(claims.paper_effect_pct(comp))
    assert claims.budget("cpu", 4.0).startswith("480 steps x batch 8")


@pytest.mark.parametrize("extra, match", [
    ("budgets: yes please", "budgets must be true or false"),
    ("budgets: true", "not .*followed|are not"),
])
def test_malformed_budget_entries_name_the_claim(tmp_path, extra, match):
    path = tmp_path / "claims.yaml"
    path.write_text("claims:\n  - id: X-1\n    paper: cliffnet\n    source: s\n    claim: c\n    comparisons:\n"
                    "      - {id: X-1a, study: loss_comparison, metric: rmse, a: grad, b: l1, direction: lower, "
                    f"{extra}}}\n")
    with pytest.raises(ValueError, match=match) as err:
        claims.load(path)
    assert "X-1" in str(err.value) and str(path) in str(err.value)


def test_heg_of_reads_shell_patterns_exact_names_first():
    assert premises.heg_of(budget.STUDY, "heg_s_x4") == "heg_s"
    assert premises.heg_of(budget.STUDY, "heg_r_x0.25") == "heg_r"
    assert premises.heg_of(budget.STUDY, "l1_x4") is None
    assert premises.heg_of("cliff_ablation", "anything") == "heg_s"
    assert premises.heg_of("loss_comparison", "heg_im") == "heg_im"


def _budget_metrics(seeds=range(5)) -> pd.DataFrame:
    """Fake budget-study rows: HEG-S beats L1 by 0.02 m at every factor, with seed noise."""
    rng = np.random.default_rng(0)
    rows = []
    for factor in budget.FACTORS:
        for seed in seeds:
            base = 0.7 / factor ** 0.1 + rng.normal(0, 0.01)
            for name, value in (("l1", base), ("heg_s", base - 0.02 + rng.normal(0, 0.002))):
                rows.append({"study": budget.STUDY, "variant": budget.variant_name(name, factor), "seed": seed,
                             "dataset": "synthrooms", "protocol": "synthetic", "depth_range": "all",
                             "metric": "rmse", "value": value, "n_images": 12})
    return pd.DataFrame(rows)


def test_by_budget_gives_one_row_per_comparison_and_factor_with_the_interval_in_percent():
    table = claims.evaluate("smoke", metrics=_budget_metrics(), studies=[budget.STUDY], compute_baselines=False)
    assert set(table.loc[table["comparison_id"] == "C-T5-hegs-vs-l1-x4", "budget"]) == {claims.budget("smoke", 4.0)}
    frame = claims.by_budget(table, get_profile("smoke").steps)
    hegs = frame[frame["comparison_id"] == "C-T5-hegs-vs-l1"]
    assert hegs["factor"].tolist() == list(budget.FACTORS) and hegs["steps"].tolist() == [3, 12, 48]
    assert (hegs["mean_diff"] < 0).all() and (hegs["n_seeds"] == 5).all()
    assert (hegs["rel_ci_low"] <= hegs["rel_effect_pct"]).all()
    assert (hegs["rel_effect_pct"] <= hegs["rel_ci_high"]).all()
    missing = frame[frame["comparison_id"] == "J-T8-full-vs-none"]
    assert (missing["verdict"] == "not tested").all()
    fig = viz.effect_vs_budget(frame, title="t")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["3", "12", "48"]


def test_extended_notebooks_run_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setattr(specs, "notebook_dependencies", lambda: {})
    import nbformat
    from nbformat.v4 import new_notebook

    for name, meta in (("01_a", {}), ("02_extra", {"extended": True}), ("03_report", {"run_last": True})):
        nb = new_notebook()
        nb.metadata["depthstudy"] = meta
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
    found = runner.discover(Path(tmp_path))
    assert [s.name for s in runner.select(found, None)] == ["01_a", "03_report"]
    assert [s.name for s in runner.select(found, None, extended=True)] == ["01_a", "02_extra", "03_report"]
    assert [s.name for s in runner.select(found, ["extra", "report"])] == ["02_extra", "03_report"]
    real = {s.name: s for s in runner.discover()}
    assert real["15_budget_sensitivity"].extended and not real["09_loss_comparison"].extended
