"""One train-and-evaluate run of a study variant, shared by every study notebook.

A :class:`Variant` names a model (registry name and options), a loss (registry name or a weighted
combination) and training overrides. :func:`run_variant` sizes the model for the profile, trains it
with :func:`depthstudy.engine.train`, evaluates it with the profile's protocol over the requested
depth ranges and records one tidy row per metric in a :class:`depthstudy.results.StudyWriter`.

Trained weights are kept as resumable checkpoints under
``<cache>/runs/<profile>/<study>/<variant>/seed<k>-<key>/last.pt``: an interrupted study resumes
where it stopped, and later notebooks (depth ranges, attention maps, protocol sensitivity) reload
the models with :func:`obtain_run` instead of training them again. The key (:func:`run_key`)
covers exactly what the weights depend on: model, loss, data and schedule options, the keys of the
upstream runs the loss uses (a trained HEG) and the training code (:func:`code_digest`), so changed
settings or code never reuse stale weights and unrelated settings never retrain (Decision X30).
A file lock per run folder (:func:`run_lock`) makes a second process wait for, then reuse, a run
that another process is training.

One training path: :func:`fit` builds a variant's model and loss and trains it; :func:`train_run`
does so in the run's keyed folder under its lock; :func:`obtain_run` returns a trained run with an
explicit policy for a missing one (``"raise"`` or ``"train"``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import filelock
import torch

from . import losses, models, paths
from .engine import EvalResult, TrainConfig, TrainResult, evaluate, load_checkpoint, seed_everything, train
from .profiles import Profile
from .results import depth_range_label


@dataclass(frozen=True)
class Variant:
    """A named configuration of one study row.

    Args:
        name: the variant name used in results (e.g. ``synergy_da``; see results/paper/README.md).
        model: model registry name (``depthstudy.models.available()``).
        model_options: options on top of the profile's sizing (the model's ``from_profile``).
        loss: loss registry name, or ``{term: weight}`` for a weighted combination.
        loss_options: options of the loss (for ``combo``: ``{term: {...}}``).
        classes: semantic classes the samples carry (None = the dataset default, 40).
        train: :class:`~depthstudy.engine.TrainConfig` overrides (e.g. ``task_schedule``, ``steps``).
        data: how the study selects the training items from the profile's training split (e.g.
            ``{"task": "heg_s", "val_fraction": 0.2}``); part of the run key, nothing more.
    """

    name: str
    model: str
    model_options: Mapping[str, Any] = field(default_factory=dict)
    loss: str | Mapping[str, float] = "l1"
    loss_options: Mapping[str, Any] = field(default_factory=dict)
    classes: int | None = None
    train: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)

    def key(self) -> dict[str, Any]:
        """JSON-able description (for hashing and provenance); module-valued options by type name."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=lambda o: type(o).__name__))


def build_variant_model(profile: Profile, variant: Variant, seed: int) -> torch.nn.Module:
    """The variant's model for ``profile``, initialised from ``seed``."""
    seed_everything(seed)
    return models.from_profile(variant.model, profile, **variant.model_options)


def build_variant_loss(variant: Variant, **runtime_options: Any) -> torch.nn.Module:
    """The variant's loss; ``runtime_options`` (e.g. a trained ``heg`` module) override."""
    options = {**variant.loss_options, **runtime_options}
    if isinstance(variant.loss, str):
        return losses.build(variant.loss, **options)
    return losses.build("combo", terms=dict(variant.loss), options=options)


def train_config(profile: Profile, seed: int, *, checkpoint_dir: Path | None = None,
                 steps: int | None = None, **overrides: Any) -> TrainConfig:
    """The profile's :class:`TrainConfig` for one seed: a history row every ``steps // 20`` steps and,
    when a dir is given, 4 checkpoints per run; ``overrides`` (e.g. a Variant's ``train``, which may
    set ``log_every``) win over both."""
    steps = steps or profile.steps
    defaults = {"log_every": max(1, steps // 20), "checkpoint_every": max(1, steps // 4) if checkpoint_dir else 0,
                "checkpoint_dir": str(checkpoint_dir) if checkpoint_dir else None}
    return TrainConfig.from_profile(profile, steps=steps, seed=seed, **{**defaults, **overrides})


TRAINING_CODE = ("models", "losses", "engine", "data", "studies", "experiment.py", "profiles.py")
"""Package parts a trained checkpoint depends on (analysis, report and bench code do not count).

``studies`` holds training code (HEG training, the fine-tuning stages), so editing it retrains."""

#: Profile fields that do not select the training data: they reach a run's key through its model
#: options, its :class:`TrainConfig`, or not at all (evaluation, seeds, names, paths). Every other
#: field (dataset, resolution, training scenes, views, depth cap, and any field added later) is
#: part of the data key, so a new profile field retrains by default (Decision X30).
NOT_DATA_FIELDS = frozenset({
    "name", "description", "seeds", "protocol", "eval_batch_size", "test_scenes", "val_scenes", "nyu_root",
    "steps", "heg_steps", "heg_lr", "pretrain_steps", "batch_size", "lr", "lr_decay_at", "device", "amp",
    "channels_last", "compile",
    "num_workers", "backbone_depth", "backbone_width", "fpn_channels", "head_width", "pretrained",
})
#: :class:`TrainConfig` fields that change logging and I/O only, never the weights.
NOT_WEIGHT_CONFIG = frozenset({"checkpoint_every", "checkpoint_dir", "resume", "log_every", "progress"})
LOCK_FILE = ".lock"
TRAININGS_FILE = "trainings.jsonl"


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """SHA-256 over the sources in :data:`TRAINING_CODE` (Python and YAML files)."""
    h = hashlib.sha256()
    files = [p for part in TRAINING_CODE for p in sorted((paths.PACKAGE_DIR / part).rglob("*"))
             if p.is_file()] + [paths.PACKAGE_DIR / p for p in TRAINING_CODE if p.endswith(".py")]
    for path in sorted(set(files)):
        if path.suffix in (".py", ".yaml") and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(paths.PACKAGE_DIR)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def data_key(profile: Profile) -> dict[str, Any]:
    """The profile fields that select a run's training data (all but :data:`NOT_DATA_FIELDS`)."""
    return {k: v for k, v in profile.as_dict().items() if k not in NOT_DATA_FIELDS}


def upstream_keys(runtime: Mapping[str, Any] | None) -> dict[str, str]:
    """Run keys of the upstream modules a run's loss uses (e.g. ``{"heg": <HEG run key>}``).

    Every runtime option that is an ``nn.Module`` must carry a ``run_key`` attribute (set by the
    code that trained or built it, e.g. :func:`depthstudy.studies.cliffnet.heg_for`): a run whose
    upstream cannot be named could not be keyed exactly, so that is an error.
    """
    keys = {}
    for name, value in (runtime or {}).items():
        if isinstance(value, torch.nn.Module):
            key = getattr(value, "run_key", None)
            if not isinstance(key, str):
                raise ValueError(f"runtime option {name!r} ({type(value).__name__}) has no run_key: "
                                 "set module.run_key to the key of the run that produced it")
            keys[name] = key
        else:
            keys[name] = json.dumps(value, sort_keys=True, default=str)
    return keys


def run_key(profile: Profile, variant: Variant, seed: int, runtime: Mapping[str, Any] | None = None) -> str:
    """SHA-256 over exactly what a run's weights depend on (Decision X30).

    The model (registry name and the options it is built with for ``profile``), the loss and its
    options, the semantic classes and data options of ``variant``, the training data
    (:func:`data_key`), the schedule (the run's :class:`TrainConfig` without its logging and I/O
    fields), the keys of upstream runs (:func:`upstream_keys`) and :func:`code_digest`. The seed is
    in the schedule. Profile fields that do not reach one of these (another run's ``steps``, the
    evaluation protocol, the seed list) leave the key unchanged.
    """
    config = dataclasses.asdict(train_config(profile, seed, **variant.train))
    blob = {
        "model": variant.model,
        "model_options": models.profile_options(variant.model, profile, **variant.model_options),
        "loss": variant.key()["loss"], "loss_options": variant.key()["loss_options"],
        "classes": variant.classes, "data": {**data_key(profile), **variant.key()["data"]},
        "schedule": {k: v for k, v in config.items() if k not in NOT_WEIGHT_CONFIG},
        "upstream": upstream_keys(runtime), "code": code_digest(),
    }
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()


def runs_root(profile: Profile) -> Path:
    """Folder of every trained run of ``profile``."""
    return paths.cache_dir() / "runs" / profile.name


def run_dir(profile: Profile, study: str, variant: Variant, seed: int,
            runtime: Mapping[str, Any] | None = None) -> Path:
    """Checkpoint folder of one run: ``<runs>/<profile>/<study>/<variant>/seed<k>-<key[:12]>``."""
    digest = run_key(profile, variant, seed, runtime)[:12]
    return runs_root(profile) / study / variant.name / f"seed{seed}-{digest}"


def run_name(folder: Path, profile: Profile) -> str:
    """The key an upstream module carries: its run folder relative to the profile's runs root."""
    return folder.relative_to(runs_root(profile)).as_posix()


@contextlib.contextmanager
def run_lock(folder: Path) -> Iterator[Path]:
    """Hold the file lock of a run folder: a second process waits here, then reuses the run."""
    folder.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(folder / LOCK_FILE)):
        yield folder


def fit(profile: Profile, variant: Variant, seed: int, train_set, *, folder: Path | None = None,
        runtime: Mapping[str, Any] | None = None, semantic_set=None, model: torch.nn.Module | None = None,
        progress: bool = False, on_log: Callable[[dict[str, float]], None] | None = None) -> TrainResult:
    """The one training path: build ``variant``'s model (or continue ``model``) and loss, train.

    Args:
        folder: checkpoint folder (resumable, 4 checkpoints per run); None = no checkpoints.
        runtime: objects the loss needs at run time (e.g. ``{"heg": frozen_heg}``).
        semantic_set: the semantic-only stream of the alternating schedule (suppl. section 8).
        model: an already built model to train further (the fine-tuning stages); its weights
            then come from the caller, not from ``seed``.
        on_log: passed to :func:`depthstudy.engine.train`: called with each history row (every
            ``log_every`` steps and at the last step), e.g. to evaluate the model mid-run.

    With a ``folder``, every call that trains at least one step appends a line to
    ``<folder>/trainings.jsonl`` (process id, first and last step, wall time): the run's training
    provenance.
    """
    model = build_variant_model(profile, variant, seed) if model is None else model
    loss = build_variant_loss(variant, **(runtime or {}))
    config = train_config(profile, seed, checkpoint_dir=folder, **{"progress": progress, **variant.train})
    result = train(model, loss, train_set, config, semantic_set=semantic_set, on_log=on_log)
    start = result.resumed_from or 0
    if folder is not None and result.steps_done > start:
        with open(Path(folder) / TRAININGS_FILE, "a") as log:
            log.write(json.dumps({"pid": os.getpid(), "from_step": start, "to_step": result.steps_done,
                                  "wall_s": round(result.wall_time_s, 3)}) + "\n")
    return result


def train_run(profile: Profile, study: str, variant: Variant, seed: int, train_set, *,
              runtime: Mapping[str, Any] | None = None, semantic_set=None,
              model: torch.nn.Module | None = None, progress: bool = False) -> TrainResult:
    """Train (or resume, or reuse) one run in its keyed folder, under the folder's lock."""
    with run_lock(run_dir(profile, study, variant, seed, runtime)) as folder:
        return fit(profile, variant, seed, train_set, folder=folder, runtime=runtime,
                   semantic_set=semantic_set, model=model, progress=progress)


MISSING_POLICIES = ("raise", "train")


def obtain_run(profile: Profile, study: str, variant: Variant, seed: int, *, missing: str = "raise",
               train_set=None, runtime: Mapping[str, Any] | None = None,
               progress: bool = False) -> torch.nn.Module:
    """The trained model of one run (eval mode), with an explicit policy for a missing run.

    ``missing="raise"``: ``FileNotFoundError`` naming the study whose notebook trains it;
    ``missing="train"``: train it now with ``train_set`` (same folder, lock and key as its owner).
    """
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing must be one of {MISSING_POLICIES}; got {missing!r}")
    folder = run_dir(profile, study, variant, seed, runtime)
    with run_lock(folder):
        path = folder / "last.pt"
        if path.is_file():
            model = build_variant_model(profile, variant, seed)
            model.load_state_dict(load_checkpoint(path)["model"])
            return model.eval()
    if missing == "raise":
        raise FileNotFoundError(
            f"no trained weights for {study}/{variant.name} seed {seed} in profile {profile.name} "
            f"({path}); run the '{study}' notebook first (depthstudy run --profile {profile.name})")
    if train_set is None:
        raise ValueError(f"obtain_run({study}/{variant.name}, missing='train') needs train_set")
    return train_run(profile, study, variant, seed, train_set, runtime=runtime, progress=progress).model.eval()


@dataclass
class RunOutcome:
    """A trained model, its loss history and its evaluation."""

    model: torch.nn.Module
    history: Any
    evaluation: EvalResult
    checkpoint: Path | None


def run_variant(profile: Profile, variant: Variant, seed: int, train_set, test_set, *, study: str,
                writer=None, depth_ranges: Sequence[float | None] = (None,),
                semantic_set=None, loss_runtime: Mapping[str, Any] | None = None,
                progress: bool = False) -> RunOutcome:
    """Train ``variant`` with ``seed`` on ``train_set``, evaluate on ``test_set``, record rows.

    Args:
        depth_ranges: upper GT bounds in metres (None = all valid pixels); each gives one
            ``depth_range`` label (``"<4m"`` or ``"all"``) in the results.
        semantic_set: the semantic-only stream of the alternating schedule (suppl. section 8).
        loss_runtime: objects the loss needs at run time (e.g. ``{"heg": frozen_heg}``).
    Returns:
        :class:`RunOutcome`; when ``writer`` is given, rows were added to it.
    """
    result = train_run(profile, study, variant, seed, train_set, runtime=loss_runtime,
                       semantic_set=semantic_set, progress=progress)
    evaluation = evaluate_model(profile, result.model, test_set, variant, depth_ranges, progress=progress)
    if writer is not None:
        record(writer, variant.name, seed, evaluation)
    return RunOutcome(result.model, result.history, evaluation, result.checkpoint)


def evaluate_model(profile: Profile, model: torch.nn.Module, test_set, variant: Variant,
                   depth_ranges: Sequence[float | None] = (None,), progress: bool = False) -> EvalResult:
    """Evaluate under the profile's protocol; ranges are upper GT bounds in metres."""
    ranges = [None if r is None else (0.0, float(r)) for r in depth_ranges]
    return evaluate(model, test_set, protocol=profile.protocol, depth_ranges=ranges,
                    classes=variant.classes or 40, batch_size=profile.eval_batch_size,
                    device=profile.device, progress=progress)


def record(writer, variant: str, seed: int, evaluation: EvalResult) -> None:
    """Add the depth metrics of every range (and mIoU / pixel accuracy under "all") to ``writer``."""
    for rng, scores in evaluation.summary.items():
        label = depth_range_label(None if rng is None else rng[1])
        metrics = {k: v for k, v in scores.items() if k not in ("n_images", "n_skipped")}
        if rng is None and evaluation.semantic is not None:
            metrics.update(miou=evaluation.semantic["miou"], pixel_acc=evaluation.semantic["pixel_acc"])
        writer.add(variant, seed, metrics, depth_range=label, n_images=int(scores["n_images"]))


def load_trained(profile: Profile, study: str, variant: Variant, seed: int,
                 runtime: Mapping[str, Any] | None = None) -> torch.nn.Module:
    """The weights trained by :func:`run_variant` (eval mode); a missing run raises (:func:`obtain_run`)."""
    return obtain_run(profile, study, variant, seed, missing="raise", runtime=runtime)
