"""The CLIFFNet studies as data, and the training of the hierarchical embedding generators (HEGs).

Notebooks 08-12 (HEG training, loss comparison = Table 5, loss gradients = Fig. 3, CLIFF
ablations = Fig. 4, protocol sensitivity) take their variant tables and HEGs from here.

HEGs (paper section 3.1):

- **HEG-S** (:func:`train_heg_s`): scene-instance classification from depth. The labels are the
  training split's scene instances (SynthRooms scene ids; NYU's raw scenes with a/b parts merged,
  249 for the official split), relabelled 0..S-1 (:func:`scene_label_map`).
- **HEG-R** (:func:`train_heg_r`): depth auto-encoder trained with an L1 reconstruction loss
  (Decision C5); decoder per Decisions C1-C4 in :class:`depthstudy.models.heg.HEGR`; raw metric
  depth in (Decision C6).
- **HEG-Im** (:func:`train_heg_im`): the paper trains HEG-S's architecture on ImageNet and averages
  the first-layer kernels over the RGB channels. ImageNet is not available offline. Deviation:
  the same architecture with ``in_channels=3`` is trained on an offline RGB task, scene-*type*
  classification from the RGB image of the training split (SynthRooms' bedroom/kitchen/...;
  NYU's ``sceneTypes``), then converted with :func:`depthstudy.models.heg.to_depth_input`. It
  keeps the property the paper tests: a HEG trained on a task that is not about depth.
- **HEG-Rn**: :func:`depthstudy.models.heg.random_heg` (HEG-S architecture, seeded).

Decision C7 (epochs, schedule, augmentation unknown): ``profile.heg_steps`` Adam iterations with a
constant learning rate and no augmentation. Learning rates: the paper's 1e-3 (HEG-S, HEG-Im) and
1e-4 (HEG-R) at CLIFFNet's 1e-4, scaled by ``profile.lr / 1e-4`` so that short CPU profiles, whose
CLIFFNet lr is raised, raise the HEG lrs alike (nyu profile: exactly the paper's values).
Each HEG is trained on the training views of the training scenes; a validation split of held-out
views of the same scenes (:func:`split_views`) measures accuracy / reconstruction error.
Decision C8: where the profile sets ``heg_scenes`` (SynthRooms), the two classifiers (HEG-S, HEG-Im)
are trained on the first ``heg_scenes`` training scenes, each rendered from ``heg_views`` cameras
(the depth networks' views of those scenes plus more), so that scene-instance classification from
depth is learnable at the profile's budget; HEG-R keeps the depth networks' training views. Their
lr is ``profile.heg_lr`` where set (chosen on the held-out views), else C7's scaled paper lr.

Trained HEGs are cached as ``heg.pt`` (``{"model", "options", "state_dict", "metrics",
"history"}``, readable by :func:`depthstudy.losses.hierarchical.load_heg`) in the run folder of
:func:`depthstudy.experiment.run_dir` under the study ``heg_training``, so notebooks 09-11 reload
them; one HEG of each kind (seed :data:`HEG_SEED`) is shared by every CLIFFNet seed, as the
authors train one HEG-S checkpoint and use it for every CLIFFNet run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pandas as pd
import torch
from torch import nn

from .. import experiment
from ..engine import TrainResult, predict
from ..engine.seeding import rng_state, set_rng_state
from ..experiment import Variant
from ..losses.hierarchical import load_heg
from ..models import heg as heg_models
from ..profiles import Profile

HEG_STUDY = "heg_training"
LOSS_STUDY = "loss_comparison"
ABLATION_STUDY = "cliff_ablation"
HEG_KINDS = ("heg_s", "heg_r", "heg_im")
HEG_FILE = "heg.pt"
HEG_SEED = 0
"""Seed of the one HEG of each kind that every CLIFFNet seed uses."""
HEG_CURVE_POINTS = 10
"""Validation scores recorded during a HEG's training (its learning curve), besides step 0."""

#: Paper Eq. (3): layers 2 and 4 of the HEG plus the depth itself, weights w0, w2, w4.
HEG_LAYERS = (2, 4)
HEG_WEIGHTS = (1.0, 10.0, 15.0)
PAPER_LRS = {"heg_s": 1e-3, "heg_r": 1e-4, "heg_im": 1e-3}
PAPER_CLIFFNET_LR = 1e-4

#: Table 5 columns in the paper's order (results/paper/README.md names).
LOSS_NAMES = ("l1", "grad", "si", "da", "mt", "heg_rn", "heg_im", "heg_r", "heg_s")
#: Fig. 4 CLIFF variants (depthstudy.models.cliffnet.VARIANTS).
CLIFF_VARIANTS = ("cliff", "wo_att", "wo_sel", "wo_id", "baseline")

#: Layer-combination search (paper 4.1, details in its unavailable supplement): candidate
#: (HEG layers, weights (w0, w_k...)). Decision: per-layer weights reuse the paper's grid-searched
#: values, 10 for layers 1-2 and 15 for layers 3-6; () is the depth-space L1 alone.
LAYER_CANDIDATES: tuple[tuple[tuple[int, ...], tuple[float, ...]], ...] = (
    ((), (1.0,)),
    ((2,), (1.0, 10.0)),
    ((4,), (1.0, 15.0)),
    ((2, 4), (1.0, 10.0, 15.0)),
    ((1, 2, 3, 4), (1.0, 10.0, 10.0, 15.0, 15.0)),
    ((2, 4, 6), (1.0, 10.0, 15.0, 15.0)),
)


def warmup_steps(profile: Profile) -> int:
    """Warm-up of the hierarchical terms: the code's 100 iterations, at most a tenth of the run.

    The authors' ``perc_loss_warmup = 100`` (their released config) is 0.04% of their ~270k iterations;
    capping it at ``profile.steps // 10`` keeps the same "short ramp" character in short profiles.
    """
    return max(1, min(100, profile.steps // 10))


def hierarchical_options(profile: Profile, layers: Sequence[int] = HEG_LAYERS,
                         weights: Sequence[float] = HEG_WEIGHTS) -> dict[str, Any]:
    """Options of the ``hierarchical`` loss (the frozen HEG is passed at run time)."""
    return {"layers": tuple(layers), "weights": tuple(weights), "warmup_steps": warmup_steps(profile)}


def loss_variants(profile: Profile, scene_classes: int) -> dict[str, Variant]:
    """Table 5: CLIFFNet (variant ``cliff``) trained with each loss, by canonical name.

    Paper 4.3: every variant except L1 adds its term to the depth-space L1. Decisions (weights not
    given): Grad = L1 + 2 x Sobel-L1 (an older config of the authors' code); SI = L1 + SI
    (lambda 0.5); DA = L1 + L_DA (Decisions J6-J9 of the ``da`` loss); MT = L1 + scene cross
    entropy with weight 1 on a scene head over ``scene_classes`` training scenes. The HEG variants
    use the ``hierarchical`` loss with layers (2, 4), weights (1, 10, 15) and the warm-up of
    :func:`warmup_steps`; their HEG is given at run time (:func:`heg_for`).
    """
    if scene_classes < 1:
        raise ValueError(f"scene_classes must be >= 1 (training scenes), got {scene_classes!r}")
    heg = hierarchical_options(profile)
    table = {
        "l1": Variant("l1", "cliffnet", loss="l1"),
        "grad": Variant("grad", "cliffnet", loss={"l1": 1.0, "grad": 2.0}),
        "si": Variant("si", "cliffnet", loss={"l1": 1.0, "si": 1.0}),
        "da": Variant("da", "cliffnet", loss={"l1": 1.0, "da": 1.0}),
        "mt": Variant("mt", "cliffnet", model_options={"scene_classes": scene_classes},
                      loss={"l1": 1.0, "scene_ce": 1.0}),
    }
    for name in ("heg_rn", "heg_im", "heg_r", "heg_s"):
        table[name] = Variant(name, "cliffnet", loss="hierarchical", loss_options=heg)
    return table


def ablation_variants(profile: Profile) -> dict[str, Variant]:
    """Fig. 4: the five CLIFF module variants, each trained with the HEG-S loss."""
    heg = hierarchical_options(profile)
    return {v: Variant(v, "cliffnet", model_options={"variant": v}, loss="hierarchical", loss_options=heg)
            for v in CLIFF_VARIANTS}


# ---------------------------------------------------------------------------------------------
# scene labels and view splits


def item_scenes(dataset) -> list[int]:
    """Scene-instance id of every item (SynthRooms ``scene_ids``; NYU via its labeled indices)."""
    ids = getattr(dataset, "scene_ids", None)
    if isinstance(ids, list):
        return [int(s) for s in ids]
    if isinstance(ids, dict) and hasattr(dataset, "indices") and hasattr(dataset, "image_scene_names"):
        return [int(ids[dataset.image_scene_names[int(k)]]) for k in dataset.indices]
    return [int(dataset[i]["scene"]) for i in range(len(dataset))]


def item_scene_types(dataset) -> list[str]:
    """Scene type (e.g. ``kitchen``) of every item."""
    types = getattr(dataset, "item_scene_types", None)
    if isinstance(types, list):
        return [str(t) for t in types]
    if hasattr(dataset, "indices") and hasattr(dataset, "image_scene_types"):
        return [str(dataset.image_scene_types[int(k)]) for k in dataset.indices]
    return [str(dataset[i]["scene_type"]) for i in range(len(dataset))]


def scene_label_map(scenes: Sequence[int]) -> dict[int, int]:
    """Scene id -> contiguous class 0..S-1, in increasing id order."""
    return {s: i for i, s in enumerate(sorted(set(int(x) for x in scenes)))}


def split_views(scenes: Sequence[int], val_fraction: float = 0.2) -> tuple[list[int], list[int]]:
    """(train, val) item indices: per scene, the last ceil(n * val_fraction) items are held out.

    Scenes with a single item stay entirely in train. Both splits cover the same scenes, so a
    scene classifier can be validated on views it has not seen (the authors train HEG-S on
    the training scenes; the held-out views are our validation).
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    by_scene: dict[int, list[int]] = {}
    for i, s in enumerate(scenes):
        by_scene.setdefault(int(s), []).append(i)
    train_idx, val_idx = [], []
    for items in by_scene.values():
        n_val = min(len(items) - 1, math.ceil(len(items) * val_fraction))
        train_idx += items[: len(items) - n_val]
        val_idx += items[len(items) - n_val:]
    return sorted(train_idx), sorted(val_idx)


class TaskSet(torch.utils.data.Dataset):
    """Items ``indices`` of ``dataset`` as samples for a HEG task.

    Each sample: ``image`` = the network input (``source`` "depth" [1,H,W] metres or "image"
    [3,H,W]), ``depth`` [1,H,W] (reconstruction target), ``scene`` = ``labels[i]`` (int class), and
    ``index``.
    """

    def __init__(self, dataset, indices: Sequence[int], labels: Sequence[int], source: str = "depth"):
        if source not in ("depth", "image"):
            raise ValueError(f"source must be 'depth' or 'image', got {source!r}")
        if len(labels) != len(dataset):
            raise ValueError(f"labels has {len(labels)} entries for a dataset of {len(dataset)} items")
        self.dataset, self.indices, self.labels, self.source = dataset, list(indices), list(labels), source

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, Any]:
        k = self.indices[i]
        sample = self.dataset[k]
        return {"image": sample[self.source], "depth": sample["depth"], "scene": int(self.labels[k]),
                "index": int(k)}


class SceneRelabelled(torch.utils.data.Dataset):
    """``dataset`` with ``scene`` replaced by a contiguous class 0..S-1 (for MT's scene head)."""

    def __init__(self, dataset, mapping: Mapping[int, int] | None = None):
        self.dataset = dataset
        self.mapping = dict(mapping) if mapping is not None else scene_label_map(item_scenes(dataset))
        self.num_classes = len(self.mapping)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict[str, Any]:
        sample = dict(self.dataset[i])
        sample["scene"] = self.mapping[int(sample["scene"])]
        return sample


# ---------------------------------------------------------------------------------------------
# HEG training


@dataclass
class HEGRun:
    """A trained (frozen) HEG, its training history and validation metrics."""

    kind: str
    model: nn.Module
    history: pd.DataFrame
    metrics: dict[str, float]
    path: Path
    curve: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Validation metric against steps during training (``step`` and :func:`heg_metric`), from step 0
    then every ``steps // HEG_CURVE_POINTS`` steps and the last step."""


def heg_lr(profile: Profile, kind: str) -> float:
    """``profile.heg_lr`` for the classifiers where set (Decision C8), else the paper lr of ``kind``
    scaled by ``profile.lr / 1e-4`` (module docstring, Decision C7)."""
    if kind not in PAPER_LRS:
        raise ValueError(f"kind must be one of {sorted(PAPER_LRS)}, got {kind!r}")
    if profile.heg_lr > 0 and kind != "heg_r":
        return profile.heg_lr
    return PAPER_LRS[kind] * profile.lr / PAPER_CLIFFNET_LR


def heg_task_data(kind: str, profile: Profile, train_set):
    """The dataset a HEG of ``kind`` trains on: ``train_set``, or for the classifiers of a profile with
    ``heg_scenes`` the first ``heg_scenes`` training scenes at ``heg_views`` views (Decision C8)."""
    if kind == "heg_r" or profile.heg_scenes < 1:
        return train_set
    from ..data.factory import build_dataset

    views = profile.heg_views or profile.views_per_scene
    return build_dataset(profile.replace(train_scenes=profile.heg_scenes, views_per_scene=views), "train",
                         family="cliffnet")


def heg_variant(profile: Profile, kind: str, num_classes: int, *, steps: int | None = None,
                val_fraction: float = 0.2) -> Variant:
    """One HEG training run: model, loss, schedule (``profile.heg_steps`` at :func:`heg_lr`) and
    the view split of its task (its run key covers all of them, not CLIFFNet's ``steps``)."""
    options = {"heg_s": {"num_scenes": num_classes}, "heg_r": {},
               "heg_im": {"num_scenes": num_classes, "in_channels": 3}}[kind]
    model = "heg_r" if kind == "heg_r" else "heg_s"
    loss = "l1" if kind == "heg_r" else "scene_ce"
    return Variant(kind, model, model_options=options, loss=loss,
                   train={"lr": heg_lr(profile, kind), "steps": steps or profile.heg_steps},
                   data={"task": kind, "val_fraction": val_fraction})


def heg_task(kind: str, train_set) -> tuple[list[int], int, str]:
    """(labels per item, number of classes, input source) of a HEG task."""
    if kind == "heg_im":
        types = item_scene_types(train_set)
        names = sorted(set(types))
        return [names.index(t) for t in types], len(names), "image"
    scenes = item_scenes(train_set)
    mapping = scene_label_map(scenes)
    return [mapping[s] for s in scenes], len(mapping), "depth"


def heg_task_sets(kind: str, profile: Profile, train_set, val_fraction: float = 0.2
                  ) -> tuple[TaskSet, TaskSet, int]:
    """(fit views, held-out validation views, number of classes) of the task of a HEG of ``kind``:
    its task data (:func:`heg_task_data`) split per scene by :func:`split_views`."""
    data = heg_task_data(kind, profile, train_set)
    labels, n_classes, source = heg_task(kind, data)
    train_idx, val_idx = split_views(item_scenes(data), val_fraction)
    fit_set, val_set = (TaskSet(data, idx, labels, source) for idx in (train_idx, val_idx))
    return fit_set, val_set, n_classes


def _train_heg(kind: str, profile: Profile, train_set, seed: int, *, steps: int | None = None,
               val_fraction: float = 0.2, progress: bool = False, retrain: bool = False) -> HEGRun:
    fit_set, val_set, n_classes = heg_task_sets(kind, profile, train_set, val_fraction)
    variant = heg_variant(profile, kind, n_classes, steps=steps, val_fraction=val_fraction)
    with experiment.run_lock(experiment.run_dir(profile, HEG_STUDY, variant, seed)) as folder:
        path = folder / HEG_FILE
        if path.is_file() and not retrain:
            return load_heg_run(kind, path, experiment.run_name(folder, profile))
        model = experiment.build_variant_model(profile, variant, seed)
        steps = int(variant.train["steps"])
        every, metric, curve = max(1, steps // HEG_CURVE_POINTS), heg_metric(kind), []

        def score(row: dict) -> None:
            step = int(row.get("step", 0))
            if step % every == 0 or step == steps:
                state = rng_state()  # scoring draws from the global RNGs: the run stays as without it
                curve.append({"step": step, metric: heg_score(kind, model, val_set, profile)})
                set_rng_state(state)

        score({"step": 0})
        result: TrainResult = experiment.fit(profile, variant, seed, fit_set, folder=folder, progress=progress,
                                             model=model, on_log=score)
        trained = result.model.eval()
        metrics = _heg_metrics(kind, trained, fit_set, val_set, profile, n_classes)
        if kind == "heg_im":
            trained = heg_models.to_depth_input(trained)
        options = dict(variant.model_options, **({"in_channels": 1} if kind == "heg_im" else {}))
        history = result.history
        curve = pd.DataFrame(curve).drop_duplicates("step", keep="last")
        torch.save({"model": variant.model, "options": options, "state_dict": trained.state_dict(),
                    "metrics": metrics, "history": history.to_dict("list"), "curve": curve.to_dict("list"),
                    "kind": kind, "seed": seed}, path)
        frozen = heg_models.freeze(trained)
        frozen.run_key = experiment.run_name(folder, profile)
        return HEGRun(kind, frozen, history, metrics, path, curve)


def _heg_metrics(kind: str, model: nn.Module, fit_set, val_set, profile: Profile,
                 n_classes: int) -> dict[str, float]:
    """Validation (and training) accuracy, or L1 reconstruction error in metres for HEG-R."""
    name = "l1" if kind == "heg_r" else "accuracy"
    out = {f"{split}_{name}": heg_score(kind, model, ds, profile)
           for split, ds in (("train", fit_set), ("val", val_set))}
    if kind != "heg_r":
        out["chance_accuracy"] = 1.0 / n_classes
    out["n_classes"] = float(n_classes)
    return out


def heg_metric(kind: str) -> str:
    """The validation metric of a HEG: ``val_l1`` (HEG-R, m) or ``val_accuracy``."""
    if kind not in HEG_KINDS:
        raise ValueError(f"kind must be one of {HEG_KINDS}, got {kind!r}")
    return "val_l1" if kind == "heg_r" else "val_accuracy"


def heg_score(kind: str, model: nn.Module, dataset: TaskSet, profile: Profile) -> float:
    """HEG-R: L1 reconstruction error over valid pixels (m); HEG-S / HEG-Im: accuracy in [0, 1],
    of ``model`` on ``dataset`` (its train / eval mode is left as it was)."""
    if kind == "heg_r":
        recon = predict(model, dataset, batch_size=profile.eval_batch_size, device=profile.device,
                        keys=("depth",), progress=False)["depth"]
        target = torch.stack([dataset[i]["depth"] for i in range(len(dataset))])
        valid = target > 0
        return float((recon - target).abs()[valid].mean())
    logits = predict(model, dataset, batch_size=profile.eval_batch_size, device=profile.device,
                     keys=("scene",), progress=False)["scene"]
    labels = torch.tensor([dataset[i]["scene"] for i in range(len(dataset))])
    return float((logits.argmax(1) == labels).float().mean())


def load_heg_run(kind: str, path: str | Path, run_key: str | None = None) -> HEGRun:
    """Reload a HEG written by the training functions (frozen, eval mode).

    ``run_key`` (default: the file's run folder relative to the profile's runs root) is set as the
    module's ``run_key``, so the runs that use it are keyed by it (Decision X30).
    """
    path = Path(path)
    model = heg_models.freeze(load_heg(path))
    model.run_key = run_key or "/".join(path.parent.parts[-3:])
    blob = torch.load(path, map_location="cpu", weights_only=False)
    return HEGRun(kind, model, pd.DataFrame(blob.get("history", {})), dict(blob.get("metrics", {})), path,
                  pd.DataFrame(blob.get("curve", {})))


def train_heg_s(profile: Profile, train_set, seed: int, **kw: Any) -> HEGRun:
    """HEG-S: scene-instance classification from depth (cross entropy), cached; see module doc.

    ``kw``: ``steps`` (default ``profile.heg_steps``), ``val_fraction``, ``progress``, ``retrain``.
    Metrics: ``train_accuracy``, ``val_accuracy`` (held-out views), ``chance_accuracy``.
    """
    return _train_heg("heg_s", profile, train_set, seed, **kw)


def train_heg_r(profile: Profile, train_set, seed: int, **kw: Any) -> HEGRun:
    """HEG-R: depth reconstruction with an L1 loss (Decision C5), cached. Metrics: ``*_l1`` metres."""
    return _train_heg("heg_r", profile, train_set, seed, **kw)


def train_heg_im(profile: Profile, train_set, seed: int, **kw: Any) -> HEGRun:
    """HEG-Im substitute: HEG-S architecture on RGB scene-type classification, then first-layer
    kernels averaged over RGB (:func:`~depthstudy.models.heg.to_depth_input`); see module doc.

    The accuracies in ``metrics`` are those of the RGB classifier before the conversion.
    """
    return _train_heg("heg_im", profile, train_set, seed, **kw)


TRAINERS: dict[str, Callable[..., HEGRun]] = {"heg_s": train_heg_s, "heg_r": train_heg_r, "heg_im": train_heg_im}


def heg_for(loss_name: str, profile: Profile, train_set, seed: int, progress: bool = False) -> nn.Module:
    """The frozen HEG a loss variant needs: random (``heg_rn``, HEG-S architecture, seeded by ``seed``)
    or the cached HEG of 08 (seed :data:`HEG_SEED`, shared by every CLIFFNet seed; trained now if
    the cache lacks it)."""
    if loss_name == "heg_rn":
        scenes = len(scene_label_map(item_scenes(train_set)))
        model = heg_models.random_heg("s", seed=seed, num_scenes=scenes)
        model.run_key = f"random_heg/s/seed{seed}-scenes{scenes}"  # built, not trained: named by its inputs
        return model
    if loss_name not in TRAINERS:
        raise ValueError(f"no HEG for loss {loss_name!r}; expected heg_rn or one of {sorted(TRAINERS)}")
    return TRAINERS[loss_name](profile, train_set, HEG_SEED, progress=progress).model


def loss_runtime(variant: Variant, profile: Profile, train_set, seed: int, hegs: Mapping[str, str]
                 ) -> dict[str, Any] | None:
    """Runtime options of a variant's loss: ``{"heg": module}`` for hierarchical losses.

    ``hegs`` maps a variant name to its HEG kind (e.g. ``{"heg_s": "heg_s"}``, or for the
    ablations every CLIFF variant to ``"heg_s"``).
    """
    if variant.loss != "hierarchical":
        return None
    return {"heg": heg_for(hegs[variant.name], profile, train_set, seed)}


def load_or_train(profile: Profile, study: str, variant: Variant, seed: int, train_set,
                  runtime: Mapping[str, Any] | None = None, progress: bool = False) -> nn.Module:
    """The model trained by :func:`depthstudy.experiment.run_variant` for ``study`` (eval mode);
    trained now (same keyed folder and lock, resumable) when the notebook that owns it has not run."""
    return experiment.obtain_run(profile, study, variant, seed, missing="train", train_set=train_set,
                                 runtime=runtime, progress=progress)


# ---------------------------------------------------------------------------------------------
# layer-combination search


def candidate_label(layers: Sequence[int]) -> str:
    """Result name of a layer combination: ``()`` -> ``"L0"``, ``(2, 4)`` -> ``"L0+2+4"``."""
    return "L0" + "".join(f"+{k}" for k in layers)


def layer_search(profile: Profile, train_set, heg: nn.Module, seed: int, *,
                 candidates: Sequence[tuple[Sequence[int], Sequence[float]]] = LAYER_CANDIDATES,
                 steps: int | None = None, val_fraction: float = 0.2,
                 progress: bool = False) -> pd.DataFrame:
    """Short CLIFFNet runs, one per (layers, weights) candidate, scored on held-out training views.

    CLIFFNet (variant ``cliff``) trains on the training views of the training scenes for
    ``steps`` iterations (default ``profile.steps // 3``, at least 1) and is evaluated under the
    profile's protocol on the validation views (:func:`split_views`); never on the test set.
    Returns one row per candidate: ``candidate``, ``layers``, ``weights`` and the depth metrics.
    """
    train_idx, val_idx = split_views(item_scenes(train_set), val_fraction)
    fit_set = torch.utils.data.Subset(train_set, train_idx)
    val_set = torch.utils.data.Subset(train_set, val_idx)
    steps = steps or max(1, profile.steps // 3)
    short = profile.replace(steps=steps)
    rows = []
    for layers, weights in candidates:
        if layers:
            variant = Variant(candidate_label(layers), "cliffnet", loss="hierarchical",
                              loss_options=hierarchical_options(short, layers, weights))
            runtime = {"heg": heg}
        else:
            variant, runtime = Variant("L0", "cliffnet", loss="l1"), {}
        trained = experiment.fit(short, variant, seed, fit_set, runtime=runtime, progress=progress).model
        scores = experiment.evaluate_model(short, trained, val_set, variant).summary[None]
        rows.append({"candidate": variant.name, "layers": tuple(layers), "weights": tuple(weights),
                     **{k: v for k, v in scores.items() if k not in ("n_images", "n_skipped")},
                     "n_images": int(scores["n_images"])})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# protocol sensitivity


AGGREGATES = ("image", "pixel")
REFERENCE = ("cliffnet", "network", "image")


def full_resolution_test_set(profile: Profile, scale: int = 2):
    """The test split with ground truth above the network resolution.

    SynthRooms renders the same scenes and cameras at any size (deterministic in seed, scene, view):
    the test set at ``scale`` x the profile's size. NYU: the labeled 480x640 frames, not resized.
    """
    from ..data.factory import build_dataset

    if profile.dataset == "nyuv2":
        return build_dataset(profile, "test", transform=_identity)
    if not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be an integer >= 1, got {scale!r}")
    return build_dataset(profile.replace(height=profile.height * scale, width=profile.width * scale), "test")


def network_resolution_test_set(profile: Profile):
    """The test split with every map, ground truth included, at the network resolution.

    SynthRooms: the profile's test set. NYU: the labeled 654 with depth and raw depth resized as
    the image (bilinear / nearest, :class:`~depthstudy.data.transforms.Resize`), for the
    ``network`` rows of the protocol sensitivity study (the default NYU test set keeps 480x640
    ground truth, Decision D1).
    """
    from ..data.factory import build_dataset

    return build_dataset(profile, "test", network_gt=True)


def _identity(sample: dict) -> dict:
    return sample


def stack_maps(dataset, key: str) -> torch.Tensor:
    """``key`` of every item, stacked [N,1,H,W] (float32)."""
    return torch.stack([dataset[i][key].float() for i in range(len(dataset))])


def score_protocols(pred: torch.Tensor, gts: Mapping[str, Mapping[str, torch.Tensor]],
                    protocols: Sequence[str] = ("cliffnet", "eigen", "bts", "synthetic"),
                    aggregates: Sequence[str] = AGGREGATES) -> pd.DataFrame:
    """The same predictions [N,1,h,w] scored under every protocol, GT resolution and aggregation.

    ``gts``: resolution name -> {"depth": [N,1,H,W], "raw_depth": [N,1,H,W]}; each protocol takes
    its own GT key (``bts``: raw depth) and resizes as its YAML entry says. Returns one row per
    (protocol, resolution, aggregate) with the depth metrics and ``n_images``.
    """
    from ..metrics import depth_metrics, get_protocol

    rows = []
    for protocol in protocols:
        key = get_protocol(protocol).gt
        for resolution, maps in gts.items():
            for aggregate in aggregates:
                scores = depth_metrics(pred, maps[key], protocol=protocol, aggregate=aggregate)
                rows.append({"protocol": protocol, "resolution": resolution, "aggregate": aggregate,
                             **{k: v for k, v in scores.items() if k != "n_skipped"}})
    return pd.DataFrame(rows)


def sensitivity_table(summary: pd.DataFrame, metrics: Sequence[str] = ("rmse", "abs_rel", "delta1"),
                      reference: tuple[str, str, str] = REFERENCE) -> pd.DataFrame:
    """Mean of each metric per (protocol, resolution, aggregate), and its change against ``reference``.

    ``summary``: the protocol_sensitivity summary, variants named ``<loss>.<resolution>.<aggregate>``.
    Columns: ``<metric>`` (mean over seeds) and ``<metric>_change`` (minus the reference row's).
    """
    parts = summary["variant"].str.split(".", expand=True)
    frame = summary.assign(resolution=parts[1], aggregate=parts[2])
    frame = frame[frame["metric"].isin(metrics)]
    wide = frame.pivot_table(index=["protocol", "resolution", "aggregate"], columns="metric",
                             values="mean")[list(metrics)]
    if reference not in wide.index:
        raise ValueError(f"reference {reference} not in the scored combinations {list(wide.index)}")
    change = (wide - wide.loc[reference]).add_suffix("_change")
    return pd.concat([wide, change], axis=1)


__all__ = [
    "ABLATION_STUDY", "AGGREGATES", "CLIFF_VARIANTS", "HEGRun", "HEG_KINDS", "HEG_LAYERS", "HEG_STUDY", "HEG_WEIGHTS",
    "LAYER_CANDIDATES", "LOSS_NAMES", "LOSS_STUDY", "REFERENCE", "SceneRelabelled", "TaskSet", "ablation_variants",
    "HEG_CURVE_POINTS", "HEG_SEED", "candidate_label", "full_resolution_test_set", "heg_for", "heg_lr",
    "heg_metric", "heg_score", "heg_task", "heg_task_data", "heg_task_sets",
    "heg_variant", "hierarchical_options",
    "item_scene_types", "item_scenes", "layer_search", "load_heg_run", "load_or_train", "loss_runtime",
    "loss_variants", "network_resolution_test_set", "scene_label_map", "score_protocols", "sensitivity_table",
    "split_views", "stack_maps", "train_heg_im", "train_heg_r", "train_heg_s", "warmup_steps",
]
