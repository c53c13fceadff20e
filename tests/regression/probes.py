"""Fixed computations whose values the portable regression check pins (see ``tests/test_regression.py``).

Every probe returns ``{name: float}``. The names are stable: ``record.py`` writes them with their
group to ``probes_expected.csv`` and the test compares a fresh computation with it.

=========  =====================================================================================
group      what is computed (smoke profile sizes, seed 0)
=========  =====================================================================================
data       SynthRooms train/test statistics: depth moments, valid fraction, RGB means, class counts
metrics    depth metrics of fixed predictions (a deterministic function of the GT) under every
           protocol and several depth ranges, pooled and per image; mIoU / accuracies of fixed labels
losses     every registered loss and every trained variant's loss of the attention-loss and
           loss-comparison studies on fixed outputs: value and gradient norm
models     every architecture at smoke size, initialised from seed 0, in eval mode on 2 test
           images: mean / std / mean |x| of each output
training   CLIFFNet + L1 trained for the smoke schedule: first / last window loss, test RMSE, AbsRel
=========  =====================================================================================
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np
import torch

from depthstudy import losses, models
from depthstudy.data.factory import build_dataset
from depthstudy.engine import TrainConfig, evaluate, seed_everything, train
from depthstudy.experiment import Variant, build_variant_loss
from depthstudy.metrics import depth_metrics, protocols, semantic_metrics
from depthstudy.profiles import get_profile
from depthstudy.studies import cliffnet, jiao

PROFILE = "smoke"
CLASSES = 40
RANGES = (None, (0.0, 4.0), (1.0, 6.0))
SCENE_CLASSES = 27
MODEL_OPTIONS = {
    "cliffnet": {}, "fcrn": {}, "encdec": {}, "synergy": {"classes": CLASSES},
    "structure": {"kind": "branch", "split": 3, "classes": 4}, "heg_s": {}, "heg_r": {},
}


@functools.lru_cache(maxsize=None)
def dataset(split: str):
    """The smoke profile's SynthRooms ``split`` (40 classes), generated without the disk cache."""
    return build_dataset(get_profile(PROFILE), split, classes=CLASSES, cache=False)


def _stack(split: str, key: str, n: int | None = None) -> torch.Tensor:
    ds = dataset(split)
    return torch.stack([ds[i][key] for i in range(len(ds) if n is None else n)])


def data_probe() -> dict[str, float]:
    """Statistics of both splits: depth in metres, RGB in [0,1], class pixel counts."""
    out: dict[str, float] = {}
    for split in ("train", "test"):
        ds = dataset(split)
        depth = ds.depth_array().astype(np.float64)
        rgb = np.stack([ds[i]["image"].numpy() for i in range(len(ds))]).astype(np.float64)
        raw = _stack(split, "raw_depth").numpy()
        labels = ds.semantic40_array()
        out.update({
            f"{split}/n": float(len(ds)), f"{split}/scenes": float(ds.num_scenes),
            f"{split}/depth_mean": depth.mean(), f"{split}/depth_std": depth.std(),
            f"{split}/depth_min": depth.min(), f"{split}/depth_max": depth.max(),
            f"{split}/raw_valid": float((raw > 0).mean()),
            **{f"{split}/rgb_mean_{c}": rgb[:, i].mean() for i, c in enumerate("rgb")},
        })
        counts = np.bincount(labels.ravel(), minlength=41)
        out.update({f"{split}/class_{k}": float(v) for k, v in enumerate(counts) if v})
    return out


def fixed_prediction(gt: torch.Tensor) -> torch.Tensor:
    """A deterministic imperfect prediction of ``gt`` [N,1,H,W] (metres): scaled, tilted, with a blob."""
    n, _, h, w = gt.shape
    y = torch.linspace(-1.0, 1.0, h).view(1, 1, h, 1)
    x = torch.linspace(-1.0, 1.0, w).view(1, 1, 1, w)
    k = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1)
    pred = gt.clamp(min=0.0) * (1.1 + 0.05 * k) + 0.3 * y - 0.2 * x + 0.5 * torch.exp(-8 * (x**2 + y**2))
    return pred.clamp(min=0.05)


def metrics_probe() -> dict[str, float]:
    """Depth metrics of :func:`fixed_prediction` on the test split and semantic scores of fixed labels."""
    out: dict[str, float] = {}
    for name, proto in sorted(protocols().items()):
        gt = _stack("test", proto.gt)
        pred = fixed_prediction(_stack("test", "depth"))
        for rng in RANGES:
            label = "all" if rng is None else f"{rng[0]:g}-{rng[1]:g}"
            for aggregate in ("image", "pixel"):
                scores = depth_metrics(pred, gt, name, depth_range=rng, aggregate=aggregate)
                out.update({f"{name}/{label}/{aggregate}/{k}": float(v) for k, v in scores.items()})
    target = _stack("test", "semantic")
    pred = torch.where((torch.arange(target.numel()).view_as(target) % 7) == 0, (target + 1) % CLASSES, target)
    scores = semantic_metrics(pred, target, CLASSES)
    out.update({f"semantic/{k}": float(scores[k]) for k in ("miou", "pixel_acc", "mean_acc")})
    return out


def _fixed_outputs(batch: dict) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    depth = fixed_prediction(batch["depth"]).requires_grad_(True)
    n, _, h, w = depth.shape
    return {"depth": depth, "semantic": torch.randn(n, CLASSES, h, w, generator=gen).requires_grad_(True),
            "scene": torch.randn(n, SCENE_CLASSES, generator=gen).requires_grad_(True)}


def _loss_value(loss: Callable, batch: dict) -> dict[str, float]:
    outputs = _fixed_outputs(batch)
    total = loss(outputs, batch)["total"]
    grads = torch.autograd.grad(total, list(outputs.values()), allow_unused=True)
    norm = torch.stack([g.norm() for g in grads if g is not None]).norm()
    return {"value": total.item(), "grad_norm": norm.item()}


def _loss_batch() -> dict:
    ds = dataset("test")
    batch = {k: torch.stack([ds[i][k] for i in range(4)]) for k in ("image", "depth", "raw_depth", "semantic")}
    batch["depth"][:, :, :6, :10] = 0.0  # an invalid (masked) corner
    batch["scene"] = torch.tensor([ds[i]["scene"] % SCENE_CLASSES for i in range(4)])
    return batch


def study_variants() -> dict[str, Variant]:
    """The trained variants of the Jiao attention-loss study and the CLIFFNet loss comparison."""
    table = {f"jiao.{k}": v for k, v in jiao.attention_variants().items()}
    table.update({f"cliffnet.{k}": v for k, v in
                  cliffnet.loss_variants(get_profile(PROFILE), SCENE_CLASSES).items()})
    return table


def losses_probe() -> dict[str, float]:
    """Each registered loss (defaults) and each study variant's loss on fixed outputs of 4 test images.

    The hierarchical loss uses a HEG-R at smoke size from seed 0 and no warm-up (the variants keep
    their own options, weights included). ``grad_norm`` is the norm of the gradient w.r.t. all
    outputs (depth, semantic and scene logits).
    """
    batch = _loss_batch()
    seed_everything(0)
    heg = models.from_profile("heg_r", get_profile(PROFILE)).eval()
    built = {name: losses.build(name) for name in losses.available() if name not in ("combo", "hierarchical")}
    built["hierarchical"] = losses.build("hierarchical", heg=heg, warmup_steps=0)
    for name, variant in study_variants().items():
        runtime = {"heg": heg} if variant.loss == "hierarchical" else {}
        built[name] = build_variant_loss(variant, **runtime)
        built[name].train()
        if hasattr(built[name], "set_step"):
            built[name].set_step(10**6)  # past any warm-up
    out: dict[str, float] = {}
    for name, loss in sorted(built.items()):
        out.update({f"{name}/{k}": v for k, v in _loss_value(loss, batch).items()})
    return out


def models_probe() -> dict[str, float]:
    """Output statistics of every model at smoke size from seed 0 (eval mode, 2 test images)."""
    profile = get_profile(PROFILE)
    image, depth = _stack("test", "image", 2), _stack("test", "depth", 2)
    out: dict[str, float] = {}
    for name, options in sorted(MODEL_OPTIONS.items()):
        seed_everything(0)
        model = models.from_profile(name, profile, **options).eval()
        with torch.no_grad():
            result = model(depth if name.startswith("heg") else image)
        tensors = result if isinstance(result, dict) else {"out": result}
        for key, t in sorted(tensors.items()):
            if isinstance(t, torch.Tensor) and t.is_floating_point():
                t = t.double()
                out.update({f"{name}/{key}/mean": float(t.mean()), f"{name}/{key}/std": float(t.std()),
                            f"{name}/{key}/absmean": float(t.abs().mean())})
    return out


def training_probe() -> dict[str, float]:
    """CLIFFNet + L1 trained for the smoke schedule from seed 0.

    Returns the mean training loss (L1, metres) of the first and the last logging window (2 steps
    each) and the test RMSE (m) and AbsRel of the trained model under the ``synthetic`` protocol.
    """
    profile = get_profile(PROFILE)
    seed_everything(0)
    model = models.from_profile("cliffnet", profile)
    config = TrainConfig.from_profile(profile, steps=profile.steps, seed=0, log_every=2, progress=False)
    result = train(model, losses.build("l1"), dataset("train"), config)
    scores = evaluate(result.model, dataset("test"), protocol="synthetic", batch_size=profile.eval_batch_size,
                      device="cpu", progress=False).summary[None]
    history = result.history["total"]
    return {"loss_first": float(history.iloc[0]), "loss_last": float(history.iloc[-1]),
            "test_rmse": float(scores["rmse"]), "test_abs_rel": float(scores["abs_rel"])}


PROBES: dict[str, Callable[[], dict[str, float]]] = {
    "data": data_probe, "metrics": metrics_probe, "losses": losses_probe,
    "models": models_probe, "training": training_probe,
}
