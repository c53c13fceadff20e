"""The Jiao et al. (ECCV 2018, supplement) studies as data, and their study-specific helpers.

Notebooks 02-07 take their variant tables, training of the task networks, relative-change tables
and the weak-supervision split from here; their comparisons and verdicts come from the evidence
layer (:mod:`depthstudy.results.evidence`).

Studies (canonical names of ``results/paper/README.md``):

- ``structures`` (suppl. Table 1): :func:`structure_variants`, :func:`finetune_stages`.
- ``branch_split`` (Table 2): :func:`branch_split_variants`.
- ``attention_loss`` (Table 8): :func:`attention_variants`.
- ``depth_range`` (Tables 4-7): :data:`RANGE_SOURCES` maps its variants to the trained models of
  ``attention_loss`` (reloaded, not retrained).
- ``weak_supervision`` (suppl. section 8, not a paper table): :func:`weak_variants`,
  :func:`split_by_scene`, :class:`LabelSubset`.

Decisions on the structure study (the supplement gives the sharing structures, 5 conv layers per
task and 4 classes, nothing else):

- Losses: L1 for depth and cross entropy for semantics, weight 1 each. The supplement names no
  loss for this study; L1 is the base per-pixel loss of Decision J9; plain CE matches the
  "w/o L_attention" reading of section 2.2.4 (the attention-driven terms are studied in Table 8).
- Every kind trains ``profile.steps`` iterations in the same setup (suppl.: "trained in the same
  setup, i.e. batch size, learning rate"). The fine-tuned network trains ``profile.steps`` on task
  A, then ``profile.steps`` on task B with a fresh optimiser (twice the iterations of the others).
- Fine-tuned column: the paper prints one "Fine-tuned" entry per task. The fine-tuned network
  predicts only the task it was fine-tuned on, so the depth entry (``rmse_rel_gain``) comes from
  the network trained on semantics then fine-tuned on depth (``finetune_sd``) and the semantic
  entry (``miou_rel_gain``) from the one trained on depth then fine-tuned on semantics
  (``finetune_ds``); both are recorded under the paper's variant ``finetune``.
- Branch-out in Table 1 is ``split=1`` (S1: stem and layer 1 shared), which mirrors the synergy
  network (shared encoder + conv2, then separate branches). Merge-in shares one final layer
  (``split=1``, the model's default) and follows the supplement's procedure, "first pre-trained on
  each dataset, and then merged" (Decision J19, :func:`run_structure`): its two sub-networks start
  from the study's own single-task networks of the same seed, the shared layer from its init, and
  the merged network then trains ``profile.steps`` on both tasks; the ``merge`` row (and every
  claim on it) is this pre-trained merge-in.

Relative change (decision of ``results.schema``, formula not given [UNKNOWN]):
``rmse_rel_gain = (rmse_single - rmse_multi) / rmse_single`` and
``miou_rel_gain = (miou_multi - miou_single) / miou_single``, positive = better, each against the
single-task network of the same seed (:func:`relative_gain_rows`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import matplotlib

matplotlib.use(matplotlib.get_backend())  # respect MPLBACKEND (Agg under test)
import matplotlib.pyplot as plt
import pandas as pd
import torch
from torch.utils.data import Dataset

from .. import experiment, results, viz
from ..data.classes import IGNORE_INDEX
from ..engine import evaluate
from ..experiment import Variant
from ..profiles import Profile
from .cliffnet import item_scenes

STRUCTURE_STUDY = "structures"
BRANCH_STUDY = "branch_split"
ATTENTION_STUDY = "attention_loss"
RANGE_STUDY = "depth_range"
WEAK_STUDY = "weak_supervision"

#: Suppl. section 2: the structure study uses the 4 structure classes.
STRUCTURE_CLASSES = 4
TASKS = ("depth", "semantic")
#: Per-task loss of the structure study (see the module docstring's decision).
TASK_LOSS = {"depth": "l1", "semantic": "ce"}
MULTI_LOSS = {"l1": 1.0, "ce": 1.0}
SINGLE = {"depth": "single_depth", "semantic": "single_semantic"}
#: Metric of each task in the relative-change tables.
TASK_METRIC = {"depth": "rmse", "semantic": "miou"}
#: Suppl. Table 2 column -> number of shared layers.
SPLITS = {"S1": 1, "S1-2": 2, "S1-3": 3, "S1-4": 4, "S1-5": 5}
#: Decision J12: L_attention = L_DA + L_semF + L_JG with weights 1, 1, 1.
FULL_LOSS = {"da": 1.0, "focal": 1.0, "jg": 1.0}
#: ``depth_range`` variant -> the ``attention_loss`` variant whose trained model it evaluates.
#: Proposed-40c is the full model of Table 8's last row; the FCRN / EncDec rows are ours (not
#: Laina's published model, which is the paper's ``laina`` row).
RANGE_SOURCES = {"synergy_4c": "synergy_4c", "synergy_40c": "synergy_da_semf_jg",
                 "synergy_depth_only": "synergy_depth_only", "fcrn_berhu": "fcrn_berhu",
                 "fcrn_da": "fcrn_da", "encdec_l2": "encdec_l2", "encdec_da": "encdec_da"}


def _structure(name: str, kind: str, loss: str | Mapping[str, float], **options: Any) -> Variant:
    return Variant(name, "structure", model_options={"kind": kind, "classes": STRUCTURE_CLASSES, **options},
                   loss=loss, classes=STRUCTURE_CLASSES)


def single_task_variants() -> dict[str, Variant]:
    """The single-task baselines ``single_depth`` (L1) and ``single_semantic`` (CE), 4 classes."""
    return {SINGLE[t]: _structure(SINGLE[t], SINGLE[t], TASK_LOSS[t]) for t in TASKS}


def structure_variants() -> dict[str, Variant]:
    """Suppl. Table 1 rows trained jointly (cascades, merge-in, branch-out) plus the baselines.

    The fine-tuned network has two stages: :func:`finetune_stages`.
    """
    table = single_task_variants()
    table.update({
        "cascade_ds": _structure("cascade_ds", "cascade_ds", MULTI_LOSS),
        "cascade_sd": _structure("cascade_sd", "cascade_sd", MULTI_LOSS),
        "merge": _structure("merge", "merge", MULTI_LOSS, split=1),
        "branch": _structure("branch", "branch", MULTI_LOSS, split=1),
    })
    return table


def finetune_stages(first: str) -> tuple[Variant, Variant]:
    """(stage 1, stage 2) of the fine-tuned network trained on ``first`` then on the other task.

    Stage variants are named ``finetune_ds_stage1`` / ``finetune_ds`` (depth then semantic) and
    ``finetune_sd_stage1`` / ``finetune_sd``; each stage has its task's loss only.
    """
    if first not in TASKS:
        raise ValueError(f"first must be one of {TASKS}, got {first!r}")
    second = TASKS[1 - TASKS.index(first)]
    name = f"finetune_{first[0]}{second[0]}"
    stage1 = _structure(f"{name}_stage1", "finetune", TASK_LOSS[first], stage=first)
    stage2 = _structure(name, "finetune", TASK_LOSS[second], stage=first)
    return stage1, stage2


def branch_split_variants() -> dict[str, Variant]:
    """Suppl. Table 2: branch-out with layers 1..k shared, S1 .. S1-5, plus the baselines."""
    table = single_task_variants()
    table.update({name: _structure(name, "branch", MULTI_LOSS, split=k) for name, k in SPLITS.items()})
    return table


def attention_variants() -> dict[str, Variant]:
    """Suppl. Table 8 rows, plus ``synergy_4c`` and ``synergy_depth_only`` for Tables 4-7.

    - EncDec (Decision J16) with L2 vs L_DA; FCRN with berHu vs L_DA (L_DA replaces the whole
      depth loss, as the table reads).
    - Synergy network, 40 classes: ``synergy_no_attention`` = L1 + CE (decision: "w/o
      L_attention" = a plain depth regression loss, L1 as J9's base, plus plain cross entropy);
      ``synergy_da`` = L_DA + CE; ``synergy_da_semf`` = L_DA + L_semF; ``synergy_da_semf_jg`` =
      L_DA + L_semF + L_JG (J12 weights 1, 1, 1). L_DA per Decisions J6-J9 (gt / 10 m, log1p
      guard, detached weights, L1 base), L_semF per J11, L_JG per J10.
    - ``synergy_4c``: 4 classes, full loss (Proposed-4c); ``synergy_depth_only``: no semantic
      branch, L_DA + L_JG (Table 7).
    """
    synergy40 = {"classes": 40}
    return {
        "encdec_l2": Variant("encdec_l2", "encdec", loss="l2"),
        "encdec_da": Variant("encdec_da", "encdec", loss="da"),
        "fcrn_berhu": Variant("fcrn_berhu", "fcrn", loss="berhu"),
        "fcrn_da": Variant("fcrn_da", "fcrn", loss="da"),
        "synergy_no_attention": Variant("synergy_no_attention", "synergy", synergy40,
                                        loss={"l1": 1.0, "ce": 1.0}, classes=40),
        "synergy_da": Variant("synergy_da", "synergy", synergy40, loss={"da": 1.0, "ce": 1.0}, classes=40),
        "synergy_da_semf": Variant("synergy_da_semf", "synergy", synergy40,
                                   loss={"da": 1.0, "focal": 1.0}, classes=40),
        "synergy_da_semf_jg": Variant("synergy_da_semf_jg", "synergy", synergy40, loss=FULL_LOSS, classes=40),
        "synergy_4c": Variant("synergy_4c", "synergy", {"classes": 4}, loss=FULL_LOSS, classes=4),
        "synergy_depth_only": Variant("synergy_depth_only", "synergy", {"depth_only": True},
                                      loss={"da": 1.0, "jg": 1.0}),
    }


def weak_variants() -> dict[str, Variant]:
    """Suppl. section 8 on SynthRooms: the synergy network (40 classes), full loss (J12).

    - ``full``: joint schedule, every training image with both labels.
    - ``weak_alternate``: alternate schedule (depth batches from the depth-only half, semantic
      batches from the semantic-only half, the other branch frozen on each).
    - ``depth_half`` / ``semantic_half``: joint schedule on one half with that task's loss only
      (L_DA + L_JG, or L_semF); only the supervised task's metrics are meaningful.
    All four train ``profile.steps`` optimiser iterations, so the alternate run sees each half for
    half of them.
    """
    model = {"classes": 40}
    return {
        "full": Variant("full", "synergy", model, loss=FULL_LOSS, classes=40),
        "weak_alternate": Variant("weak_alternate", "synergy", model, loss=FULL_LOSS, classes=40,
                                  train={"task_schedule": "alternate"}),
        "depth_half": Variant("depth_half", "synergy", model, loss={"da": 1.0, "jg": 1.0}, classes=40),
        "semantic_half": Variant("semantic_half", "synergy", model, loss="focal", classes=40),
    }


#: Which metrics of each weak-supervision variant are recorded (the others are untrained heads).
WEAK_TASKS = {"full": TASKS, "weak_alternate": TASKS, "depth_half": ("depth",),
              "semantic_half": ("semantic",)}


# ---------------------------------------------------------------------------------------------
# training and evaluation of task networks (models that may lack a depth output)


def evaluate_tasks(profile: Profile, model: torch.nn.Module, test_set, classes: int,
                   tasks: Sequence[str] = TASKS) -> tuple[dict[str, float], int]:
    """Depth metrics (profile protocol, all valid pixels) and/or mIoU and pixel accuracy.

    :func:`depthstudy.engine.evaluate` on the ``tasks`` the model outputs (the single-task and
    fine-tuned semantic networks have no depth output). Returns (metrics, number of test images).
    """
    result = evaluate(model, test_set, protocol=profile.protocol,
                      classes=classes if "semantic" in tasks else None,
                      batch_size=profile.eval_batch_size, device=profile.device, progress=False)
    metrics: dict[str, float] = {}
    if "depth" in tasks and None in result.summary:
        metrics.update({k: float(v) for k, v in result.summary[None].items() if k not in ("n_images", "n_skipped")})
    if result.semantic is not None:
        metrics.update(miou=float(result.semantic["miou"]), pixel_acc=float(result.semantic["pixel_acc"]))
    if not metrics:
        raise ValueError(f"model outputs none of the tasks {tuple(tasks)}")
    return metrics, len(test_set)


def _fit(profile: Profile, variant: Variant, model: torch.nn.Module, seed: int, train_set, *,
         study: str, semantic_set=None) -> torch.nn.Module:
    return experiment.train_run(profile, study, variant, seed, train_set, model=model,
                                semantic_set=semantic_set).model


def run_task_variant(profile: Profile, variant: Variant, seed: int, train_set, test_set, *, study: str,
                     writer=None, tasks: Sequence[str] = TASKS, semantic_set=None
                     ) -> tuple[torch.nn.Module, dict[str, float]]:
    """Train ``variant`` (checkpointed and resumable, as :func:`experiment.run_variant`), score it
    with :func:`evaluate_tasks` and add its metrics to ``writer`` (depth range ``all``)."""
    model = experiment.build_variant_model(profile, variant, seed)
    model = _fit(profile, variant, model, seed, train_set, study=study, semantic_set=semantic_set)
    metrics, n = evaluate_tasks(profile, model, test_set, variant.classes or 40, tasks)
    if writer is not None:
        writer.add(variant.name, seed, metrics, n_images=n)
    return model, metrics


def merge_from_singles(profile: Profile, variant: Variant, seed: int, train_set, *, study: str
                       ) -> tuple[Variant, torch.nn.Module]:
    """The merge-in network before joint training: sub-networks from the single-task runs of ``seed``.

    Returns the variant keyed by those runs (their run keys enter ``data``, so a retrained
    sub-network retrains the merge, Decision X30) and the model with the copied weights. The
    single-task runs are reused from ``study``, or trained there now if missing.
    """
    singles = single_task_variants()
    nets, keys = {}, {}
    for task in TASKS:
        single = singles[SINGLE[task]]
        nets[task] = experiment.obtain_run(profile, study, single, seed, missing="train", train_set=train_set)
        keys[task] = experiment.run_key(profile, single, seed)
    keyed = dataclasses.replace(variant, data={**variant.data, "sub_networks": keys})
    model = experiment.build_variant_model(profile, keyed, seed)
    model.load_sub_networks(nets)
    return keyed, model


def run_structure(profile: Profile, variant: Variant, seed: int, train_set, test_set, *, study: str,
                  writer=None) -> tuple[torch.nn.Module, dict[str, float]]:
    """One Table 1 row: merge-in from its pre-trained sub-networks (:func:`merge_from_singles`), then
    trained jointly; every other kind as :func:`run_task_variant` (from scratch)."""
    if variant.model_options.get("kind") != "merge":
        return run_task_variant(profile, variant, seed, train_set, test_set, study=study, writer=writer)
    keyed, model = merge_from_singles(profile, variant, seed, train_set, study=study)
    model = _fit(profile, keyed, model, seed, train_set, study=study)
    metrics, n = evaluate_tasks(profile, model, test_set, variant.classes or 40)
    if writer is not None:
        writer.add(variant.name, seed, metrics, n_images=n)
    return model, metrics


def run_finetune(profile: Profile, first: str, seed: int, train_set, test_set, *, study: str,
                 writer=None) -> tuple[torch.nn.Module, dict[str, float]]:
    """Fine-tuned network: train on ``first``, then fine-tune everything on the other task.

    Both stages are checkpointed (stage 2 starts from the stage-1 weights). The metrics of the
    second task are recorded under the stage-2 variant name (``finetune_ds`` / ``finetune_sd``).
    """
    stage1, stage2 = finetune_stages(first)
    model = experiment.build_variant_model(profile, stage1, seed)
    model = _fit(profile, stage1, model, seed, train_set, study=study)
    model.set_stage(TASKS[1 - TASKS.index(first)])
    model = _fit(profile, stage2, model, seed, train_set, study=study)
    metrics, n = evaluate_tasks(profile, model, test_set, STRUCTURE_CLASSES)
    if writer is not None:
        writer.add(stage2.name, seed, metrics, n_images=n)
    return model, metrics


# ---------------------------------------------------------------------------------------------
# relative changes


def gain_sources(variants: Sequence[str]) -> dict[str, dict[str, str]]:
    """Output variant -> {"rmse": source, "miou": source}: each multi-task variant is its own
    source, and the paper's ``finetune`` takes depth from ``finetune_sd`` and semantics from
    ``finetune_ds`` (module docstring)."""
    sources = {v: {"rmse": v, "miou": v} for v in variants
               if v not in SINGLE.values() and not v.startswith("finetune")}
    if {"finetune_sd", "finetune_ds"} <= set(variants):
        sources["finetune"] = {"rmse": "finetune_sd", "miou": "finetune_ds"}
    return sources


def _per_seed(rows: pd.DataFrame, variant: str, metric: str, depth_range: str = "all") -> pd.Series:
    sel = rows[(rows["variant"] == variant) & (rows["metric"] == metric)
               & (rows["depth_range"] == depth_range)]
    if sel.empty:
        raise KeyError(f"no {metric!r} rows of variant {variant!r} (depth range {depth_range!r}); "
                       f"variants present: {sorted(rows['variant'].unique())}")
    return sel.set_index("seed")["value"]


def relative_gain_rows(rows: pd.DataFrame, sources: Mapping[str, Mapping[str, str]]) -> pd.DataFrame:
    """Tidy rows of ``rmse_rel_gain`` / ``miou_rel_gain`` per (variant, seed) against the
    single-task networks of the same seed.

    Args:
        rows: tidy metrics (``variant, seed, depth_range, metric, value, n_images``) holding the
            ``rmse`` of ``single_depth``, the ``miou`` of ``single_semantic`` and those of every source.
        sources: output variant -> {"rmse" | "miou": source variant} (:func:`gain_sources`).
    Returns:
        frame with ``variant, seed, depth_range, metric, value, n_images`` (for ``add_frame``);
        only seeds present in both the baseline and the source.
    """
    baselines = {m: _per_seed(rows, SINGLE[t], m) for t, m in TASK_METRIC.items()}
    n_images = rows.groupby("variant")["n_images"].max()
    out = []
    for variant, by_metric in sources.items():
        for metric, source in by_metric.items():
            if metric not in baselines:
                raise ValueError(f"sources[{variant!r}] names metric {metric!r}; expected rmse or miou")
            values = _per_seed(rows, source, metric)
            for seed in sorted(set(values.index) & set(baselines[metric].index)):
                gain = results.relative_gain(metric, float(baselines[metric][seed]), float(values[seed]))
                out.append({"variant": variant, "seed": int(seed), "depth_range": "all",
                            "metric": f"{metric}_rel_gain", "value": gain,
                            "n_images": int(n_images[source])})
    return pd.DataFrame(out, columns=["variant", "seed", "depth_range", "metric", "value", "n_images"])


def gain_table(rows: pd.DataFrame, study: str | None = None,
               metrics: Sequence[str] = ("rmse_rel_gain", "miou_rel_gain")) -> pd.DataFrame:
    """One row per (variant, gain metric): mean, std (ddof=1; 0 for one seed) and seeds of the
    relative gain against the single-task network, and with ``study`` the paper's value beside it.
    Descriptive only: the claims on these gains are decided by :mod:`depthstudy.results.evidence`."""
    paper = {}
    if study in results.PAPER_STUDIES:
        ref = results.load_paper(study=study)
        paper = {(v, m): float(x) for v, m, x in zip(ref["variant"], ref["metric"], ref["value"])}
    out = []
    gains = rows[rows["metric"].isin(metrics)]
    for (variant, metric), group in gains.groupby(["variant", "metric"], sort=False):
        values = group.sort_values("seed")["value"].to_numpy()
        out.append({"variant": variant, "metric": metric, "mean": float(values.mean()),
                    "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                    "n_seeds": len(values), "paper": paper.get((variant, metric), math.nan)})
    return pd.DataFrame(out, columns=["variant", "metric", "mean", "std", "n_seeds", "paper"])


# ---------------------------------------------------------------------------------------------
# depth-range plot


def plot_metric_vs_range(summary: pd.DataFrame, metrics: Sequence[str], *, title: str = ""):
    """One panel per metric: mean ± std over seeds against the depth-range bound, one line per
    variant (``"all"`` drawn at the largest bound + 2 m and labelled "all")."""
    ranges = sorted(summary["depth_range"].unique(), key=_range_bound)
    finite = [_range_bound(r) for r in ranges if r != "all"]
    x_of = {r: (_range_bound(r) if r != "all" else (max(finite) + 2 if finite else 1.0)) for r in ranges}
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3.0), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        sel = summary[summary["metric"] == metric]
        for variant, group in sel.groupby("variant", sort=False):
            group = group.set_index("depth_range").reindex([r for r in ranges if r in set(group["depth_range"])])
            xs = [x_of[r] for r in group.index]
            ax.errorbar(xs, group["mean"], yerr=group["std"], marker="o", capsize=2, label=variant)
        ax.set_xticks([x_of[r] for r in ranges], ranges)
        ax.set_title(metric, fontsize=9)
        ax.set_xlabel("GT depth range [m]"), ax.set_ylabel(viz.metric_label(metric), fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    viz.legend_outside(fig, axes[0][0])
    return fig


def _range_bound(label: str) -> float:
    parsed = results.parse_depth_range(label)
    return math.inf if parsed is None else parsed[1]


# ---------------------------------------------------------------------------------------------
# weak supervision: disjoint depth-only and semantic-only halves


def split_by_scene(scenes: Sequence[int]) -> tuple[list[int], list[int]]:
    """(depth-half, semantic-half) item indices: scene instances in increasing id order are dealt
    alternately to the two halves, so no scene is in both (suppl. section 8 had disjoint KITTI
    depth and Cityscapes semantic images). Needs at least two scenes."""
    order = sorted(set(int(s) for s in scenes))
    if len(order) < 2:
        raise ValueError(f"split_by_scene needs at least 2 scene instances, got {len(order)}")
    depth_scenes = set(order[0::2])
    depth_idx = [i for i, s in enumerate(scenes) if int(s) in depth_scenes]
    semantic_idx = [i for i, s in enumerate(scenes) if int(s) not in depth_scenes]
    return depth_idx, semantic_idx


class LabelSubset(Dataset):
    """Items ``indices`` of ``dataset`` keeping only the labels of ``keep``.

    ``keep="depth"``: ``semantic`` set to 255 (IGNORE_INDEX) everywhere; ``keep="semantic"``:
    ``depth`` and ``raw_depth`` set to 0 (invalid) everywhere; ``keep="both"``: unchanged. Other
    keys (``index``, ``scene``, ...) pass through, so the losses mask the blanked label entirely.
    """

    KEEP = ("depth", "semantic", "both")

    def __init__(self, dataset, indices: Sequence[int], keep: str):
        if keep not in self.KEEP:
            raise ValueError(f"keep must be one of {self.KEEP}, got {keep!r}")
        n = len(dataset)
        bad = [i for i in indices if not 0 <= int(i) < n]
        if bad:
            raise IndexError(f"indices {bad[:3]} out of range for a dataset of {n} items")
        self.dataset, self.indices, self.keep = dataset, [int(i) for i in indices], keep

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, Any]:
        sample = dict(self.dataset[self.indices[i]])
        if self.keep == "depth":
            sample["semantic"] = torch.full_like(sample["semantic"], IGNORE_INDEX)
        elif self.keep == "semantic":
            for key in ("depth", "raw_depth"):
                if key in sample:
                    sample[key] = torch.zeros_like(sample[key])
        return sample


@dataclass
class WeakSplit:
    """The training sets of the weak-supervision study (all views of disjoint scenes)."""

    full: Dataset
    depth_only: LabelSubset
    semantic_only: LabelSubset
    depth_scenes: int
    semantic_scenes: int


def weak_split(train_set) -> WeakSplit:
    """Full set, its depth-only half and its semantic-only half (split by scene)."""
    scenes = item_scenes(train_set)
    depth_idx, semantic_idx = split_by_scene(scenes)
    return WeakSplit(full=train_set, depth_only=LabelSubset(train_set, depth_idx, "depth"),
                     semantic_only=LabelSubset(train_set, semantic_idx, "semantic"),
                     depth_scenes=len({scenes[i] for i in depth_idx}),
                     semantic_scenes=len({scenes[i] for i in semantic_idx}))


__all__ = [
    "ATTENTION_STUDY", "BRANCH_STUDY", "FULL_LOSS", "LabelSubset", "RANGE_SOURCES", "RANGE_STUDY",
    "SPLITS", "STRUCTURE_CLASSES", "STRUCTURE_STUDY", "TASK_LOSS", "WEAK_STUDY", "WEAK_TASKS",
    "WeakSplit", "attention_variants", "branch_split_variants",
    "evaluate_tasks", "finetune_stages", "gain_sources", "gain_table",
    "merge_from_singles", "plot_metric_vs_range", "relative_gain_rows", "run_finetune", "run_structure",
    "run_task_variant", "single_task_variants", "split_by_scene", "structure_variants",
    "weak_split", "weak_variants",
]
