"""Learning curves (Decision S14): one run per family through experiment.fit, scored in place on
validation data every ``every`` steps without changing the run."""

import math

import pytest
import torch

from depthstudy import experiment
from depthstudy.data.factory import build_dataset
from depthstudy.profiles import get_profile
from depthstudy.studies import cliffnet as cf
from depthstudy.studies import curves


@pytest.fixture(scope="module")
def smoke():
    return get_profile("smoke")


def test_fit_passes_on_log_through_to_the_engine(smoke):
    variant = curves.curve_variant(smoke, curves.depth_families(smoke)["cliffnet"], steps=4, every=2)
    rows = []
    result = experiment.fit(smoke, variant, 0, build_dataset(smoke, "train"), on_log=rows.append)
    assert [r["step"] for r in rows] == [2, 4] and all(math.isfinite(r["total"]) for r in rows)
    assert list(result.history["step"]) == [2, 4]  # log_every from the Variant's train mapping


def test_curve_steps_metrics_and_the_budget_point_is_the_study_run(smoke):
    """At the profile budget the curve equals a plain ``profile.steps`` run scored on the same views:
    the evaluations in between change nothing, and the lr milestones are the budget run's."""
    variant = curves.depth_families(smoke)["cliffnet"]
    train_set, val_set = curves.family_data(smoke, "cliffnet")
    assert len(val_set) == smoke.val_scenes * smoke.views_per_scene
    curve = curves.learning_curve(smoke, variant, 0, train_set, val_set, steps=smoke.steps + 4, every=4)
    assert list(curve["step"]) == [0, 4, 8, 12, 16] and list(curve.columns) == ["step", *curves.DEPTH_METRICS]
    assert curve[list(curves.DEPTH_METRICS)].notna().all().all() and (curve["rmse"] > 0).all()
    assert curve["rmse"].iloc[-1] != curve["rmse"].iloc[0]  # it trained
    plain = experiment.fit(smoke, variant, 0, train_set).model
    budget = experiment.evaluate_model(smoke, plain, val_set, variant).summary[None]
    at_budget = curve.set_index("step").loc[smoke.steps]
    assert at_budget["rmse"] == pytest.approx(budget["rmse"], rel=1e-5)
    assert at_budget["delta1"] == pytest.approx(budget["delta1"], rel=1e-5)


def test_budget_change_reads_the_last_evaluation_at_or_before_the_budget():
    import pandas as pd

    curve = pd.DataFrame({"step": [0, 5, 10, 15, 20], "rmse": [2.0, 1.5, 1.0, 0.9, 0.8]})
    out = curves.budget_change(curve, 12, "rmse")
    assert out == {"budget_step": 10, "at_budget": 1.0, "end_step": 20, "at_end": 0.8,
                   "rel_change": pytest.approx(-0.2)}
    with pytest.raises(ValueError, match="miou"):
        curves.budget_change(curve, 12, "miou")


def test_bad_steps_and_families_are_refused(smoke):
    variant = curves.depth_families(smoke)["cliffnet"]
    with pytest.raises(ValueError, match="every"):
        curves.curve_variant(smoke, variant, steps=4, every=0)
    with pytest.raises(ValueError, match="unknown family 'vgg'.*cliffnet"):
        curves.family_curve(smoke, "vgg", 0, steps=1, every=1)
    with pytest.raises(ValueError, match="no 'val' split"):
        build_dataset(get_profile("smoke", val_scenes=0), "val")


@pytest.mark.parametrize("family", curves.FAMILIES)
def test_every_family_has_a_curve(smoke, family):
    curve = curves.family_curve(smoke, family, 0, steps=2, every=1)
    assert set(curve["family"]) == {family}
    if family in cf.HEG_KINDS:  # the curve notebook 08's HEG run recorded while training
        metric = cf.heg_metric(family)
        assert list(curve.columns) == ["family", "step", metric]
        every = max(1, smoke.heg_steps // cf.HEG_CURVE_POINTS)
        assert list(curve["step"]) == list(range(0, smoke.heg_steps + 1, every))
        values = torch.tensor(curve[metric].to_numpy())
        assert torch.isfinite(values).all() and (values >= 0).all()
        if metric == "val_accuracy":
            assert (values <= 1).all()
        return
    assert list(curve["step"]) == [0, 1, 2]
    assert set(curves.DEPTH_METRICS) <= set(curve.columns)
    assert curve[list(curves.DEPTH_METRICS)].notna().all().all()
    variant = curves.depth_families(smoke)[family]
    has_semantic = family == "synergy"  # the only family whose curve variant predicts semantics
    assert ("miou" in curve.columns) == has_semantic and (variant.classes == 40) == has_semantic
