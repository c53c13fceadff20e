"""One train-and-evaluate run of a study variant, shared by every study notebook.

A :class:`Variant` names a model (registry name and options), a loss (registry name or a weighted
combination) and training overrides. :func:`run_variant` sizes the model for the profile, trains it
with :func:`depthstudy.engine.train`, evaluates it with the profile's protocol over the requested
depth ranges and records one tidy row per metric in a :class:`depthstudy.results.StudyWriter`.

Trained weights are kept as resumable checkpoints under
``<cache>/runs/<profile>/<study>/<variant>/seed<k>-<hash>/last.pt``: an interrupted study resumes
where it stopped, and later notebooks (depth ranges, attention maps, protocol sensitivity) reload
the models with :func:`load_trained` instead of training them again. The hash covers the variant,
every profile field and the package's source code (:func:`code_digest`), so changed settings or
changed code never reuse stale weights.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from . import losses, models, paths
from .engine import EvalResult, TrainConfig, evaluate, load_checkpoint, seed_everything, train
from .profiles import Profile
from .results import depth_range_label


@dataclass(frozen=True)
class Variant:
    """A named configuration of one study row.

    Args:
        name: the variant name used in results (e.g. ``synergy_da``; see results/paper/README.md).
        model: model registry name (``depthstudy.models.available()``).
        model_options: options on top of the profile's sizing (:func:`sized_model_options`).
        loss: loss registry name, or ``{term: weight}`` for a weighted combination.
        loss_options: options of the loss (for ``combo``: ``{term: {...}}``).
        classes: semantic classes the samples carry (None = the dataset default, 40).
        train: :class:`~depthstudy.engine.TrainConfig` overrides (e.g. ``task_schedule``).
    """

    name: str
    model: str
    model_options: Mapping[str, Any] = field(default_factory=dict)
    loss: str | Mapping[str, float] = "l1"
    loss_options: Mapping[str, Any] = field(default_factory=dict)
    classes: int | None = None
    train: Mapping[str, Any] = field(default_factory=dict)

    def key(self) -> dict[str, Any]:
        """JSON-able description (for hashing and provenance); module-valued options by type name."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=lambda o: type(o).__name__))


def sized_model_options(profile: Profile, model: str, **options: Any) -> dict[str, Any]:
    """Backbone and width options of ``model`` for ``profile``, updated with ``options``.

    The profile's ResNet depth and width multiplier apply to every ResNet-based model; EncDec's
    base width and the structure networks' head width follow the profile too. A local ImageNet
    checkpoint (``profile.pretrained``) is passed where the backbone has torchvision widths.
    """
    backbone = dict(backbone_depth=profile.backbone_depth, backbone_width=profile.backbone_width)
    pretrained = profile.pretrained if profile.pretrained and profile.backbone_width == 1.0 else None
    sized: dict[str, dict[str, Any]] = {
        "cliffnet": dict(backbone, fpn_channels=profile.fpn_channels, pretrained=pretrained,
                         **({"stride": "pytorch", "input_norm": "imagenet"} if pretrained else {})),
        "synergy": dict(backbone, pretrained=pretrained),
        "fcrn": dict(backbone, pretrained=pretrained,
                     **({"stride": "pytorch"} if pretrained else {})),
        "encdec": dict(base=max(8, int(round(32 * profile.backbone_width / 8)) * 8)),
        "structure": dict(stem=f"resnet{profile.backbone_depth}", stem_width=profile.backbone_width,
                          width=profile.head_width, pretrained=pretrained),
        "heg_s": {}, "heg_r": {},
    }
    if model not in sized:
        raise ValueError(f"unknown model {model!r}; valid: {', '.join(sorted(sized))}")
    return {**sized[model], **options}


def build_variant_model(profile: Profile, variant: Variant, seed: int) -> torch.nn.Module:
    """The variant's model for ``profile``, initialised from ``seed``."""
    seed_everything(seed)
    return models.build(variant.model, **sized_model_options(profile, variant.model, **variant.model_options))


def build_variant_loss(variant: Variant, **runtime_options: Any) -> torch.nn.Module:
    """The variant's loss; ``runtime_options`` (e.g. a trained ``heg`` module) override."""
    options = {**variant.loss_options, **runtime_options}
    if isinstance(variant.loss, str):
        return losses.build(variant.loss, **options)
    return losses.build("combo", terms=dict(variant.loss), options=options)


def train_config(profile: Profile, seed: int, *, checkpoint_dir: Path | None = None,
                 steps: int | None = None, **overrides: Any) -> TrainConfig:
    """The profile's :class:`TrainConfig` for one seed (checkpoints 4 times per run when a dir is given)."""
    steps = steps or profile.steps
    return TrainConfig.from_profile(
        profile, steps=steps, seed=seed, log_every=max(1, steps // 20),
        checkpoint_every=max(1, steps // 4) if checkpoint_dir else 0,
        checkpoint_dir=str(checkpoint_dir) if checkpoint_dir else None, **overrides,
    )


TRAINING_CODE = ("models", "losses", "engine", "data", "experiment.py", "profiles.py")
"""Package parts a trained checkpoint depends on (analysis, report and bench code do not count)."""


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


def run_dir(profile: Profile, study: str, variant: Variant, seed: int) -> Path:
    """Checkpoint folder of one run, keyed by a hash of the variant, the profile and the code."""
    blob = json.dumps({"variant": variant.key(), "profile": profile.as_dict(), "code": code_digest()},
                      sort_keys=True, default=str)
    digest = hashlib.sha256(blob.encode()).hexdigest()[:12]
    return paths.cache_dir() / "runs" / profile.name / study / variant.name / f"seed{seed}-{digest}"


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
    folder = run_dir(profile, study, variant, seed)
    model = build_variant_model(profile, variant, seed)
    loss = build_variant_loss(variant, **(loss_runtime or {}))
    config = train_config(profile, seed, checkpoint_dir=folder, **{"progress": progress, **variant.train})
    result = train(model, loss, train_set, config, semantic_set=semantic_set)
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


def load_trained(profile: Profile, study: str, variant: Variant, seed: int) -> torch.nn.Module:
    """Rebuild ``variant`` and load the weights trained by :func:`run_variant` (eval mode).

    Raises ``FileNotFoundError`` naming the notebook's study when the run does not exist yet.
    """
    path = run_dir(profile, study, variant, seed) / "last.pt"
    if not path.is_file():
        raise FileNotFoundError(
            f"no trained weights for {study}/{variant.name} seed {seed} in profile {profile.name} "
            f"({path}); run the '{study}' notebook first (depthstudy run --profile {profile.name})"
        )
    model = build_variant_model(profile, variant, seed)
    model.load_state_dict(load_checkpoint(path)["model"])
    return model.eval()
