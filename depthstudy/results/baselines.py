"""Trivial baselines of every task, under the same protocol and per-image aggregation as the models.

Written as the study ``baselines`` (``results/<profile>/baselines/``, with provenance) by
:func:`run`; the premise checks (:mod:`depthstudy.results.premises`) and the report read them.
Decision E7 defines them:

- depth (test split, profile protocol, per image): ``const_mean`` / ``const_median`` = the mean /
  median of every valid training pixel predicted everywhere; ``position_mean`` = the per-pixel-
  position mean of the training depths (valid pixels only);
- semantics (test split, 4 and 40 classes): ``majority_<C>c`` = the most frequent training class
  everywhere; ``position_majority_<C>c`` = the most frequent training class of each pixel position;
- HEG tasks (the HEGs' validation views of the training split, as notebook 08 uses them):
  ``heg_s_chance`` / ``heg_im_chance`` = 1 / classes, ``heg_s_majority`` / ``heg_im_majority`` =
  the accuracy of always predicting the most frequent label of the HEG's training views;
  ``heg_r_block_mean`` = the L1 error (m, valid pixels) of a 2x2 block-mean reconstruction: each
  image cut into a 2x2 grid of blocks, each block replaced by its mean valid depth. HEG-R squeezes
  depth through a 64x2x2 bottleneck (Decision C1), so a 2x2 grid of means is the trivial
  reconstruction at the same spatial size that a trained HEG-R must beat.

The data are fixed by the profile (SynthRooms: its generator seed), so each baseline is one
deterministic row, recorded as seed 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd
import torch

from ..data.classes import IGNORE_INDEX
from ..metrics import ConfusionMatrix, depth_metrics
from ..profiles import Profile, get_profile

STUDY = "baselines"
HEG_PROTOCOL = "heg_validation"
SEMANTIC_CLASSES = (4, 40)
GRID = 2


def stack(dataset, key: str, indices: Sequence[int] | None = None) -> torch.Tensor:
    """``key`` of the items ``indices`` (default all) stacked along a new first dimension."""
    idx = range(len(dataset)) if indices is None else indices
    return torch.stack([dataset[i][key] for i in idx])


def depth_baselines(train_depth: torch.Tensor, test_depth: torch.Tensor, protocol: str) -> dict[str, dict]:
    """Depth metrics of the three constant-ish predictors; depths [N,1,H,W] m, 0 = invalid."""
    valid = train_depth > 0
    pixels = train_depth[valid]
    counts = valid.sum(0, keepdim=True).clamp(min=1)
    position_mean = torch.where(valid, train_depth, 0).sum(0, keepdim=True) / counts
    position_mean = torch.where(valid.any(0, keepdim=True), position_mean, pixels.mean())
    preds = {"const_mean": torch.full_like(test_depth, float(pixels.mean())),
             "const_median": torch.full_like(test_depth, float(pixels.median())),
             "position_mean": position_mean.expand_as(test_depth).clone()}
    return {name: depth_metrics(pred, test_depth, protocol=protocol) for name, pred in preds.items()}


def semantic_baselines(train_labels: torch.Tensor, test_labels: torch.Tensor, classes: int) -> dict[str, dict]:
    """mIoU and pixel accuracy of the majority class and the per-position majority map.

    Labels [N,H,W] int64 in 0..C-1 or ``IGNORE_INDEX``.
    """
    one_hot = torch.zeros(classes, *train_labels.shape[1:], dtype=torch.int64)
    for labels in train_labels:
        ok = labels != IGNORE_INDEX
        one_hot.view(classes, -1).scatter_add_(0, labels.clamp(max=classes - 1).view(1, -1),
                                               ok.view(1, -1).to(torch.int64))
    majority = int(one_hot.sum((1, 2)).argmax())
    maps = {f"majority_{classes}c": torch.full(test_labels.shape[1:], majority, dtype=torch.int64),
            f"position_majority_{classes}c": one_hot.argmax(0)}
    out = {}
    for name, pred in maps.items():
        matrix = ConfusionMatrix(classes)
        matrix.update(pred.expand_as(test_labels).contiguous(), test_labels)
        scores = matrix.compute()
        out[name] = {"miou": float(scores["miou"]), "pixel_acc": float(scores["pixel_acc"])}
    return out


def classification_baselines(labels: Sequence[int], fit: Sequence[int], val: Sequence[int],
                             n_classes: int) -> dict[str, float]:
    """``chance`` = 1 / n_classes and ``majority`` = validation accuracy of the most frequent
    label of the ``fit`` items (indices into ``labels``)."""
    fit_labels = pd.Series([labels[i] for i in fit])
    top = fit_labels.value_counts().idxmax()
    return {"chance": 1.0 / n_classes, "majority": float(sum(labels[i] == top for i in val) / len(val))}


def block_mean_l1(depth: torch.Tensor, grid: int = GRID) -> float:
    """L1 error (m, valid pixels) of reconstructing depths [N,1,H,W] by the mean valid depth of each
    block of a ``grid`` x ``grid`` partition of the image (block edges at ``round(k*H/grid)``)."""
    valid = depth > 0
    recon = torch.zeros_like(depth)
    rows = [round(k * depth.shape[-2] / grid) for k in range(grid + 1)]
    cols = [round(k * depth.shape[-1] / grid) for k in range(grid + 1)]
    for r0, r1 in zip(rows[:-1], rows[1:]):
        for c0, c1 in zip(cols[:-1], cols[1:]):
            d, v = depth[..., r0:r1, c0:c1], valid[..., r0:r1, c0:c1].float()
            mean = (d * v).sum(dim=(-2, -1), keepdim=True) / v.sum(dim=(-2, -1), keepdim=True).clamp(min=1)
            recon[..., r0:r1, c0:c1] = mean.expand_as(d)
    return float((recon - depth).abs()[valid].mean())


def heg_baselines(profile: Profile, train_set) -> dict[str, dict]:
    """Chance / majority of HEG-S (scene instances) and HEG-Im (scene types), and HEG-R's block
    mean, on the validation views of :func:`depthstudy.studies.cliffnet.split_views` of each HEG's
    own task data (:func:`depthstudy.studies.cliffnet.heg_task_data`, Decision C8)."""
    from ..studies.cliffnet import heg_task, heg_task_data, item_scenes, split_views

    out = {}
    for kind in ("heg_s", "heg_im"):
        data = heg_task_data(kind, profile, train_set)
        labels, n, _ = heg_task(kind, data)
        fit, val = split_views(item_scenes(data))
        for name, value in classification_baselines(labels, fit, val, n).items():
            out[f"{kind}_{name}"] = {"val_accuracy": value, "n_images": len(val)}
    fit, val = split_views(item_scenes(train_set))
    out["heg_r_block_mean"] = {"val_l1": block_mean_l1(stack(train_set, "depth", val)), "n_images": len(val)}
    return out


def compute(profile: Profile) -> pd.DataFrame:
    """Every baseline of ``profile`` as tidy rows (``variant, seed, protocol, metric, value, n_images``)."""
    from ..data.factory import build_dataset

    rows = []

    def add(variant: str, scores: dict, protocol: str, n_images: int) -> None:
        for metric, value in scores.items():
            if metric not in ("n_images", "n_skipped"):
                rows.append({"variant": variant, "seed": 0, "protocol": protocol, "depth_range": "all",
                             "metric": metric, "value": float(value), "n_images": n_images})

    for classes in SEMANTIC_CLASSES:
        train, test = (build_dataset(profile, split, classes=classes) for split in ("train", "test"))
        if classes == SEMANTIC_CLASSES[-1]:
            train_depth, test_depth = stack(train, "depth"), stack(test, "depth")
            for name, scores in depth_baselines(train_depth, test_depth, profile.protocol).items():
                add(name, scores, profile.protocol, int(scores["n_images"]))
            for name, scores in heg_baselines(profile, train).items():
                add(name, scores, HEG_PROTOCOL, int(scores["n_images"]))
        sem = semantic_baselines(stack(train, "semantic"), stack(test, "semantic"), classes)
        for name, scores in sem.items():
            add(name, scores, profile.protocol, len(test))
    return pd.DataFrame(rows)


def run(profile: str | Profile, root: Path | None = None) -> Path:
    """Compute the baselines of ``profile`` and write the study folder; returns its path."""
    from . import StudyWriter

    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    frame = compute(prof)
    writer = StudyWriter(STUDY, prof.name, root=root, dataset=prof.dataset, protocol=prof.protocol,
                         params=params(prof))
    writer.add_frame(frame)
    return writer.finish()["metrics"].parent


def params(profile: Profile) -> dict:
    """What the baselines of ``profile`` depend on (recorded in ``run.json``): the grid, the class
    counts, the data settings and the HEG classifiers' task data (Decision C8)."""
    return {"grid": GRID, "semantic_classes": list(SEMANTIC_CLASSES), **profile.synthrooms_options(),
            "heg_scenes": profile.heg_scenes, "heg_views": profile.heg_views}


def ensure(profile: str, root: Path | None = None) -> Path:
    """The baselines folder of ``profile``, computed first when it has no ``run.json`` or one whose
    ``params`` differ from the profile's present settings (:func:`params`: a folder of an older
    profile definition is stale and is replaced)."""
    import json

    from .. import paths

    folder = Path(root if root is not None else paths.results_dir()) / profile / STUDY
    record = folder / "run.json"
    current = json.loads(json.dumps(params(get_profile(profile))))
    if record.is_file() and json.loads(record.read_text(encoding="utf-8")).get("params") == current:
        return folder
    return run(profile, root)


def table(profile: str, metrics: Sequence[str], root: Path | None = None) -> pd.DataFrame:
    """Wide table of the baselines of ``profile`` that have any of ``metrics``: rows = baseline,
    columns = metric (NaN where a baseline has no such metric); computed first when missing."""
    from .store import read_metrics

    rows = read_metrics(ensure(profile, root) / "metrics.csv")
    rows = rows[rows["metric"].isin(metrics)]
    wide = rows.pivot_table(index="variant", columns="metric", values="value", sort=False)
    return wide.reindex(columns=[m for m in metrics if m in wide.columns]).rename_axis("baseline")


__all__ = ["STUDY", "block_mean_l1", "classification_baselines", "compute", "depth_baselines", "ensure",
           "heg_baselines", "params", "run", "semantic_baselines", "table"]
