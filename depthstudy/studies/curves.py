"""Learning curves: validation metrics against training steps, one curve per model family.

The study ``learning_curves`` (notebook 14) trains one run of each family of the study for longer
than its budget and scores it, every ``every`` steps, on data no budget is allowed to read
otherwise, so that each family's training budget is chosen on validation data, never on the test
scenes (Decision S14):

- depth families (:data:`DEPTH_FAMILIES`, the variants of :func:`depth_families`): the validation
  scenes of the profile (``build_dataset(profile, "val")``, drawn like the training scenes);
- HEGs (:data:`cliffnet.HEG_KINDS`): the held-out views of their own task data
  (:func:`~depthstudy.studies.cliffnet.heg_task_sets`), recorded while notebook 08 trains the
  study's HEGs (:func:`heg_curve`).

Each curve is ONE run through the single training path :func:`depthstudy.experiment.fit` (its
``on_log`` hook evaluates the model in place, then training goes on in train mode with every
random stream restored, so the evaluations do not change the run). The run keeps the lr milestones
of the family's budget run (``profile.steps``, HEGs ``profile.heg_steps``) and the final lr after
them: up to the budget the curve is the study's own run, beyond it it shows what more steps at
the final lr would give. Curves are not cached: the table is the product.

Rows (:func:`learning_curve`, :func:`heg_curve`): ``step`` (0 = the untrained model, then every
``every`` steps and the last step) and the metrics: depth ``rmse`` (m), ``abs_rel``, ``delta1``
(fraction in [0, 1]) under the profile's protocol, and ``miou`` ([0, 1]) for models with a
semantic output; HEG-S / HEG-Im ``val_accuracy`` ([0, 1]), HEG-R ``val_l1`` (m).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import pandas as pd
import torch

from .. import experiment
from ..data.factory import build_dataset
from ..engine.seeding import rng_state, set_rng_state
from ..experiment import Variant
from ..profiles import Profile
from . import cliffnet as cf
from . import jiao

STUDY = "learning_curves"
DEPTH_FAMILIES = ("cliffnet", "synergy", "fcrn", "encdec", "structure")
FAMILIES = DEPTH_FAMILIES + cf.HEG_KINDS
"""Every family with a curve: the depth networks, then the HEGs."""
DEPTH_METRICS = ("rmse", "abs_rel", "delta1")
#: Which dataset family (:data:`depthstudy.data.factory.FAMILIES`) each depth family trains on.
DATA_FAMILY = {"cliffnet": "cliffnet", "synergy": "jiao", "fcrn": "jiao", "encdec": "jiao", "structure": "jiao"}


def depth_families(profile: Profile) -> dict[str, Variant]:
    """Family -> the variant of its curve, from the studies' own variant tables: CLIFFNet + L1 (Table 5),
    the synergy network with the full loss (40 classes), FCRN + berHu, EncDec + L2 (Table 8) and the
    single-task depth network of the structure studies (4 classes)."""
    attention = jiao.attention_variants()
    return {"cliffnet": cf.loss_variants(profile, scene_classes=max(1, profile.train_scenes))["l1"],
            "synergy": attention["synergy_da_semf_jg"], "fcrn": attention["fcrn_berhu"],
            "encdec": attention["encdec_l2"], "structure": jiao.single_task_variants()["single_depth"]}


def family_data(profile: Profile, family: str) -> tuple[Any, Any]:
    """(training set, validation scenes) of a depth family, with its variant's semantic classes."""
    variant = depth_families(profile)[family]
    classes = variant.classes or 40
    return (build_dataset(profile, "train", classes=classes, family=DATA_FAMILY[family]),
            build_dataset(profile, "val", classes=classes))


def curve_variant(profile: Profile, variant: Variant, *, steps: int, every: int) -> Variant:
    """``variant`` trained ``steps`` steps with a history row every ``every`` steps and the lr
    milestones of its budget run (``variant.train["steps"]`` or ``profile.steps``)."""
    if not (isinstance(steps, int) and isinstance(every, int) and steps >= 1 and every >= 1):
        raise ValueError(f"steps and every must be integers >= 1; got steps={steps!r}, every={every!r}")
    budget = int(variant.train.get("steps", profile.steps))
    milestones = variant.train.get("lr_decay_steps", profile.decay_steps(budget))
    return dataclasses.replace(variant, train={**variant.train, "steps": steps, "log_every": every,
                                               "lr_decay_steps": tuple(milestones)})


def _curve(profile: Profile, variant: Variant, seed: int, train_set, score: Callable[[torch.nn.Module], dict],
           *, steps: int, every: int, runtime: Mapping[str, Any] | None) -> pd.DataFrame:
    """Train one run of ``variant`` and ``score`` it at step 0, every ``every`` steps and at the end."""
    variant = curve_variant(profile, variant, steps=steps, every=every)
    model = experiment.build_variant_model(profile, variant, seed)

    def evaluate(step: int) -> None:
        state = rng_state()  # evaluation draws from the global RNGs (DataLoader seeds): put them back
        rows.append({"step": step, **score(model)})
        set_rng_state(state)

    rows: list[dict[str, Any]] = []
    evaluate(0)
    experiment.fit(profile, variant, seed, train_set, runtime=runtime, model=model,
                   on_log=lambda row: evaluate(int(row["step"])))
    return pd.DataFrame(rows)


def learning_curve(profile: Profile, variant: Variant, seed: int, train_set, val_set, *, steps: int, every: int,
                   runtime: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Validation metrics of one run of ``variant`` against its training steps.

    Args:
        train_set, val_set: sample datasets (``val_set``: e.g. ``build_dataset(profile, "val")``).
        steps: training steps of the curve; every: steps between evaluations (also ``log_every``).
        runtime: objects the loss needs at run time (as :func:`depthstudy.experiment.fit`).
    Returns:
        One row per evaluation: ``step``, ``rmse`` (m), ``abs_rel``, ``delta1`` and, for a model with
        a semantic output, ``miou`` (module docstring).
    """
    def score(model: torch.nn.Module) -> dict[str, float]:
        result = experiment.evaluate_model(profile, model, val_set, variant)
        out = {m: float(result.summary[None][m]) for m in DEPTH_METRICS}
        if result.semantic is not None:
            out["miou"] = float(result.semantic["miou"])
        return out

    return _curve(profile, variant, seed, train_set, score, steps=steps, every=every, runtime=runtime)


def heg_curve(profile: Profile, kind: str, train_set) -> pd.DataFrame:
    """Validation metric of the study's HEG of ``kind`` against its training steps.

    The curve is recorded while notebook 08 trains the HEG (:class:`~depthstudy.studies.cliffnet.HEGRun`
    ``curve``: the held-out views of its task data at step 0 and every tenth of ``profile.heg_steps``),
    so it is that HEG's own run, not a second one; a missing HEG is trained now. Rows: ``step`` and
    ``val_accuracy`` (HEG-S, HEG-Im; fraction) or ``val_l1`` (HEG-R; m).
    """
    curve = cf.TRAINERS[kind](profile, train_set, cf.HEG_SEED).curve
    if curve.empty:
        raise ValueError(f"the {kind} run of profile {profile.name!r} has no recorded curve (trained by an older "
                         "version); delete its run folder to retrain it")
    return curve.reset_index(drop=True)


def budget_change(curve: pd.DataFrame, budget: int, metric: str) -> dict[str, float]:
    """``metric`` of a curve at the budget (the last evaluation at or before step ``budget``) and at
    its end, and ``rel_change`` = (end - budget) / budget: negative = an error still falling (or an
    accuracy falling) after the budget."""
    before = curve[curve["step"] <= budget]
    if before.empty or metric not in curve:
        raise ValueError(f"no {metric!r} evaluation at or before step {budget} in the curve")
    at, end = before.iloc[-1], curve.iloc[-1]
    return {"budget_step": int(at["step"]), "at_budget": float(at[metric]), "end_step": int(end["step"]),
            "at_end": float(end[metric]), "rel_change": float((end[metric] - at[metric]) / at[metric])}


def family_curve(profile: Profile, family: str, seed: int, *, steps: int, every: int) -> pd.DataFrame:
    """The curve of one entry of :data:`FAMILIES` on the profile's data, with a ``family`` column
    (HEGs: the study's HEG run, :func:`heg_curve`; ``seed``, ``steps`` and ``every`` are the depth
    families')."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES}")
    if family in cf.HEG_KINDS:
        train_set = build_dataset(profile, "train", family="cliffnet")
        curve = heg_curve(profile, family, train_set)
    else:
        train_set, val_set = family_data(profile, family)
        curve = learning_curve(profile, depth_families(profile)[family], seed, train_set, val_set,
                               steps=steps, every=every)
    curve.insert(0, "family", family)
    return curve


__all__ = ["DATA_FAMILY", "DEPTH_FAMILIES", "DEPTH_METRICS", "FAMILIES", "STUDY", "budget_change", "curve_variant",
           "depth_families",
           "family_curve", "family_data", "heg_curve", "learning_curve"]
