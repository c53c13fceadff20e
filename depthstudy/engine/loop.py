"""The training loop (:func:`train`) and inference (:func:`predict`, :func:`evaluate`).

Training step ``s`` (1-based): take the next batch, move its tensors to the device (image in
channels_last when enabled), forward under bf16 autocast when AMP is on, compute the loss in
float32 (``loss(outputs, batch)``; the loss's ``set_step(s - 1)`` is called first when it has one),
backward, drop the gradients of the frozen branch (alternate schedule), clip (optional), Adam
step, lr-scheduler step.

History: one row every ``log_every`` steps and at the last step, with ``step``, ``lr`` (the lr
used at that step), every loss term averaged over the steps since the previous row (all-reduced
over processes) and ``images_per_s`` (global images per second over that window).

Non-finite losses: the loss terms are checked at every history row and before every
checkpoint (one device sync per window rather than per step); the first step whose loss is
non-finite raises ``FloatingPointError`` naming the step and every term. Parameters are checked
before a checkpoint is written, so no checkpoint ever holds NaN.

Alternate schedule (Jiao et al. suppl. section 8, weak supervision): odd steps draw a batch from
``train_set`` (depth labels; its semantic labels all 255) and update everything except the
semantic branch; even steps draw from ``semantic_set`` (semantic labels; depth all 0) and update
everything except the depth branch. Freezing = setting the frozen branch's ``.grad`` to None
after backward, so Adam (coupled weight decay included) skips those parameters entirely. The
loss must return finite values when a label type is entirely invalid.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence, Sized

import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader

from .checkpoint import check_compatible, checkpoint_path, load_checkpoint, save_checkpoint
from .config import TrainConfig, resolve_channels_last, resolve_device, resolve_flag
from .distributed import (
    all_gather_object,
    all_reduce_mean,
    get_rank,
    get_world_size,
    is_main_process,
    local_batch_size,
    process_group,
    unwrap,
    wrap_model,
)
from .optim import build_optimizer, build_scheduler
from .progress import progress_bar
from .sampling import batch_stream
from .seeding import derive_seed, reproducible_kernels, rng_state, seed_everything, set_rng_state

STREAMS = ("train", "semantic")   # data streams: train_set, semantic_set (alternate schedule only)


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        model: the trained model, unwrapped from DDP/compile (same object as passed in).
        history: one row per logging window: step, lr, loss terms..., images_per_s.
        wall_time_s: wall-clock seconds of this call.
        steps_done: iterations completed in total (``config.steps`` on success).
        resumed_from: the checkpoint step this call started from, or None for a fresh run.
        checkpoint: path of ``last.pt`` when checkpointing, else None.
    """

    model: nn.Module
    history: pd.DataFrame
    wall_time_s: float
    steps_done: int
    resumed_from: int | None
    checkpoint: Path | None = None


@dataclass
class EvalResult:
    """What :func:`evaluate` returns.

    Attributes:
        per_image: one row per (image, depth range): ``index`` (the sample's index),
            ``depth_range`` (label, "all" or "lo-hi"), ``n_valid`` and the metric columns.
            Images without a valid pixel in a range have no row for it.
        summary: depth range (as given, e.g. None or (0, 4)) -> {metric: float, n_images, n_skipped};
            empty for a model without a ``depth`` output.
        semantic: {"miou", "pixel_acc", "mean_acc", "iou_per_class"} from one dataset-level
            confusion matrix, or None when no ``classes`` or no ``semantic`` output.
        protocol: the evaluation protocol name.
    """

    per_image: pd.DataFrame
    summary: dict[Any, dict[str, float]]
    semantic: dict | None
    protocol: str


@dataclass
class _Window:
    """Loss sums of the current logging window (host side, already all-reduced)."""

    names: tuple[str, ...] = ()
    sums: list[float] = field(default_factory=list)
    count: int = 0


def train(model: nn.Module, loss_fn: Callable[..., Mapping[str, torch.Tensor]], train_set: Sized,
          config: TrainConfig, *, semantic_set: Sized | None = None,
          on_log: Callable[[dict[str, float]], None] | None = None) -> TrainResult:
    """Train ``model`` with ``loss_fn`` on ``train_set`` for ``config.steps`` iterations.

    Args:
        model: forward(image [B,3,H,W] in [0,1]) -> dict with ``depth`` [B,1,H,W] (metres), ...
            With ``task_schedule="alternate"`` it must have ``branch_parameters(task)`` for
            ``"depth"`` and ``"semantic"``.
        loss_fn: ``loss(outputs, batch) -> {"total": scalar, term: scalar, ...}``.
        train_set: dataset of sample dicts (depth-only samples for the alternate schedule).
        config: see :class:`TrainConfig`.
        semantic_set: semantic-only samples; required by, and only allowed with, the alternate schedule.
        on_log: called on rank 0 with each history row (a dict), after any checkpoint of that step.

    Returns:
        :class:`TrainResult`.

    Raises:
        FloatingPointError: a non-finite loss (message names the step and the terms).
        ValueError: bad arguments or an incompatible checkpoint.
    """
    _check_train_args(model, loss_fn, train_set, config, semantic_set)
    device = resolve_device(config.device)
    start = time.perf_counter()
    with process_group(device), reproducible_kernels(device):
        trainer = _Trainer(model, loss_fn, config, device, on_log)
        trainer.fit(train_set, semantic_set)
    return TrainResult(model=unwrap(trainer.net), history=trainer.history(),
                       wall_time_s=time.perf_counter() - start, steps_done=trainer.step,
                       resumed_from=trainer.resumed_from, checkpoint=trainer.ckpt_path)


def train_step(model: nn.Module, loss_fn: Callable[..., Mapping[str, torch.Tensor]],
               config: TrainConfig) -> Callable[[dict], None]:
    """The engine's own optimiser step as a function of one batch, for benchmarks.

    Builds the state :func:`train` builds (device, channels_last, bf16 autocast, ``torch.compile``,
    Adam with the engine's parameter groups, lr schedule) without data, checkpoints or logging.
    Each call of the returned function runs one step of :func:`train`'s loop on ``batch`` (a
    collated dict with ``image`` [B,3,H,W] and the loss's targets).
    """
    trainer = _Trainer(model, loss_fn, config, resolve_device(config.device), on_log=None)
    trainer.net.train()

    def step(batch: dict) -> None:
        trainer._train_step(batch, "train")

    return step


def _check_train_args(model: Any, loss_fn: Any, train_set: Any, config: Any, semantic_set: Any) -> None:
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig; got {type(config).__name__}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable (outputs, batch) -> dict; got {type(loss_fn).__name__}")
    if not hasattr(train_set, "__len__"):
        raise TypeError("train_set must be a map-style dataset with __len__")
    if config.task_schedule == "joint" and semantic_set is not None:
        raise ValueError("semantic_set is only used with TrainConfig.task_schedule='alternate'")
    if config.task_schedule == "alternate":
        if semantic_set is None or not hasattr(semantic_set, "__len__"):
            raise ValueError("task_schedule='alternate' needs semantic_set (a map-style dataset of "
                             "semantic-only samples)")
        if not callable(getattr(model, "branch_parameters", None)):
            raise ValueError("task_schedule='alternate' needs a model with branch_parameters(task) "
                             f"for 'depth' and 'semantic'; {type(model).__name__} has none")


class _Trainer:
    """State of one training run (see module doc for the step)."""

    def __init__(self, model: nn.Module, loss_fn: Callable, config: TrainConfig, device: torch.device,
                 on_log: Callable | None):
        self.cfg, self.device, self.loss_fn, self.on_log = config, device, loss_fn, on_log
        self.rank, self.world = get_rank(), get_world_size()
        self.local_batch = local_batch_size(config.batch_size, self.world)
        self.amp = resolve_flag(config.amp, device)
        self.channels_last = resolve_channels_last(config.channels_last, device)
        model.to(device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        if isinstance(loss_fn, nn.Module):
            loss_fn.to(device).train()
        self.frozen = _frozen_branches(model) if config.task_schedule == "alternate" else {}
        self.optimizer = build_optimizer(model, config.lr, config.weight_decay)
        self.scheduler = build_scheduler(self.optimizer, config.lr_decay_steps, config.lr_decay_gamma)
        self.ckpt_path = checkpoint_path(config)
        self.step, self.positions, self.rows, self.window = 0, dict.fromkeys(STREAMS, 0), [], _Window()
        self.pending: list[tuple[int, tuple[str, ...], torch.Tensor]] = []
        self.resumed_from = self._restore_or_seed(model)
        self.net = wrap_model(model, device) if self.world > 1 else model
        if config.compile:
            self.net = torch.compile(self.net)
        self.lr_used, self.window_start = config.lr, time.perf_counter()

    def _restore_or_seed(self, model: nn.Module) -> int | None:
        if not (self.cfg.resume and self.ckpt_path is not None and self.ckpt_path.is_file()):
            seed_everything(self.cfg.seed if self.rank == 0 else derive_seed(self.cfg.seed, self.rank))
            return None
        state = load_checkpoint(self.ckpt_path, map_location="cpu")
        check_compatible(state["config"], self.cfg, self.ckpt_path)
        if state["step"] > self.cfg.steps:
            raise ValueError(f"checkpoint {self.ckpt_path} is at step {state['step']}, beyond "
                             f"TrainConfig.steps={self.cfg.steps}")
        model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.positions = int(state["step"]), dict(state["data"])
        self.rows = list(state["history"]["rows"])
        self.window = _Window(**state["history"]["window"])
        self._restore_rng(state["rng"])
        return self.step

    def _restore_rng(self, states: list[dict]) -> None:
        if len(states) == self.world:
            set_rng_state(states[self.rank])
            return
        warnings.warn(f"checkpoint was written by {len(states)} process(es), this run has {self.world}: "
                      "random streams are reseeded, so the run will not match an uninterrupted one", stacklevel=2)
        if self.rank == 0:
            set_rng_state(states[0])
        else:
            seed_everything(derive_seed(self.cfg.seed, self.rank, self.step))

    def fit(self, train_set: Sized, semantic_set: Sized | None) -> None:
        """Run steps ``self.step + 1 .. config.steps``."""
        streams = {name: self._stream(ds, i, name) for i, (name, ds)
                   in enumerate(zip(STREAMS, (train_set, semantic_set))) if ds is not None}
        bar = progress_bar(self.cfg.steps, initial=self.step, enabled=self.cfg.progress)
        self.net.train()
        self.window_start = time.perf_counter()
        try:
            while self.step < self.cfg.steps:
                name = self._stream_of(self.step + 1)
                batch = next(streams[name])
                self.positions[name] += 1
                terms = self._train_step(batch, name)
                self.step += 1
                self.pending.append((self.step, *terms))
                bar.update(1)
                self._after_step(bar)
        finally:
            bar.close()
            streams.clear()

    def _stream(self, dataset: Sized, index: int, name: str) -> Iterator[dict]:
        return batch_stream(dataset, self.cfg.batch_size, seed=self.cfg.seed, stream=index, rank=self.rank,
                            world_size=self.world, start=self.positions[name],
                            num_workers=self.cfg.num_workers, pin_memory=self.device.type == "cuda")

    def _stream_of(self, step: int) -> str:
        if self.cfg.task_schedule == "alternate" and step % 2 == 0:
            return "semantic"
        return "train"

    def _train_step(self, batch: dict, stream: str) -> tuple[tuple[str, ...], torch.Tensor]:
        batch = _to_device(batch, self.device, self.channels_last)
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            outputs = self.net(batch["image"])
        outputs = {k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v
                   for k, v in outputs.items()}
        if callable(getattr(self.loss_fn, "set_step", None)):
            self.loss_fn.set_step(self.step)
        losses = self.loss_fn(outputs, batch)
        names, values = _loss_vector(losses)
        losses["total"].backward()
        for param in self.frozen.get(stream, ()):
            param.grad = None
        if self.cfg.grad_clip is not None:
            nn.utils.clip_grad_norm_([p for p in self.net.parameters() if p.grad is not None],
                                     self.cfg.grad_clip)
        self.lr_used = self.optimizer.param_groups[0]["lr"]
        self.optimizer.step()
        self.scheduler.step()
        return names, values

    def _after_step(self, bar: Any) -> None:
        s = self.step
        log_now = s % self.cfg.log_every == 0 or s == self.cfg.steps
        ckpt_now = (self.ckpt_path is not None and self.cfg.checkpoint_every > 0
                    and (s % self.cfg.checkpoint_every == 0 or s == self.cfg.steps))
        if not (log_now or ckpt_now):
            return
        self._flush()
        row = self._close_window() if log_now else None
        if ckpt_now:
            self._save()
        if row is not None:
            bar.set_postfix(loss=f"{row['total']:.4g}", lr=f"{row['lr']:.2g}", refresh=False)
            if self.on_log is not None and is_main_process():
                self.on_log(dict(row))

    def _flush(self) -> None:
        """All-reduce the pending loss vectors, check them, add them to the window."""
        names = self.pending[0][1]
        for step, other, _ in self.pending:
            if other != names:
                raise ValueError(f"loss terms changed at step {step}: {list(other)} vs {list(names)}; "
                                 "a loss must return the same keys at every step")
        values = all_reduce_mean(torch.stack([v for _, _, v in self.pending])).cpu()
        bad = (~torch.isfinite(values)).any(dim=1).nonzero()
        if len(bad):
            i = int(bad[0])
            terms = ", ".join(f"{n}={float(v):.6g}" for n, v in zip(names, values[i]))
            raise FloatingPointError(f"non-finite loss at step {self.pending[i][0]}: {terms}; training "
                                     "stopped (no checkpoint written for this step)")
        if self.window.count and self.window.names != names:
            raise ValueError(f"loss terms changed: {list(names)} vs {list(self.window.names)}")
        sums = values.double().sum(dim=0).tolist()
        old = self.window.sums or [0.0] * len(sums)
        self.window = _Window(names, [a + b for a, b in zip(old, sums)], self.window.count + len(self.pending))
        self.pending = []

    def _close_window(self) -> dict[str, float]:
        now = time.perf_counter()
        w = self.window
        row = {"step": self.step, "lr": self.lr_used,
               **{n: s / w.count for n, s in zip(w.names, w.sums)},
               "images_per_s": w.count * self.cfg.batch_size / max(now - self.window_start, 1e-9)}
        self.rows.append(row)
        self.window, self.window_start = _Window(), now
        return row

    def _save(self) -> None:
        model = unwrap(self.net)
        for name, param in model.named_parameters():
            if not torch.isfinite(param.detach()).all():
                raise FloatingPointError(f"parameter {name!r} is non-finite after step {self.step}; "
                                         "training stopped (no checkpoint written)")
        rngs = all_gather_object(rng_state())
        if not is_main_process():
            return
        w = self.window
        save_checkpoint(self.ckpt_path, {
            "model": model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "step": self.step, "config": self.cfg.as_dict(),
            "rng": rngs, "data": dict(self.positions), "world_size": self.world,
            "history": {"rows": list(self.rows), "window": {"names": w.names, "sums": w.sums, "count": w.count}},
        })

    def history(self) -> pd.DataFrame:
        """The rows so far as a DataFrame (columns: step, lr, loss terms, images_per_s)."""
        if not self.rows:
            return pd.DataFrame(columns=["step", "lr", "images_per_s"])
        return pd.DataFrame(self.rows)


def _frozen_branches(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """Stream -> parameters frozen on its steps: semantic branch on depth batches and vice versa."""
    branches = {task: list(model.branch_parameters(task)) for task in ("depth", "semantic")}
    own = {id(p) for p in model.parameters()}
    for task, params in branches.items():
        if not params:
            raise ValueError(f"model.branch_parameters({task!r}) returned no parameters")
        if any(id(p) not in own for p in params):
            raise ValueError(f"model.branch_parameters({task!r}) returned parameters not in the model")
    return {"train": branches["semantic"], "semantic": branches["depth"]}


def _loss_vector(losses: Mapping[str, Any]) -> tuple[tuple[str, ...], torch.Tensor]:
    """(term names with "total" first, float32 vector of their detached values)."""
    if not isinstance(losses, Mapping) or "total" not in losses:
        raise ValueError(f"loss must return a dict with a 'total' entry; got {type(losses).__name__}"
                         + (f" with keys {list(losses)}" if isinstance(losses, Mapping) else ""))
    names = ("total", *[k for k in losses if k != "total"])
    values = []
    for name in names:
        value = losses[name]
        if not torch.is_tensor(value) or value.numel() != 1:
            raise ValueError(f"loss term {name!r} must be a scalar tensor; got "
                             f"{type(value).__name__} {tuple(getattr(value, 'shape', ()))}")
        values.append(value.detach().float().reshape(()))
    return names, torch.stack(values)


def _to_device(batch: Mapping[str, Any], device: torch.device, channels_last: bool = False) -> dict:
    out = {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
    if channels_last:
        out["image"] = out["image"].contiguous(memory_format=torch.channels_last)
    return out


def _inference_batches(model: nn.Module, dataset: Sized, batch_size: int, device: str,
                       progress: bool, desc: str) -> Iterator[tuple[dict, dict]]:
    """Yield (batch on CPU, outputs on the device) in dataset order, model in eval mode, no grad."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1; got {batch_size!r}")
    dev = resolve_device(device)
    was_training = model.training
    model.to(dev).eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    bar = progress_bar(len(loader), desc=desc, enabled=progress)
    try:
        with torch.no_grad():
            for batch in loader:
                yield batch, model(batch["image"].to(dev))
                bar.update(1)
    finally:
        bar.close()
        model.train(was_training)


def predict(model: nn.Module, dataset: Sized, *, batch_size: int = 8, device: str = "auto",
            keys: Sequence[str] = ("depth",), progress: bool = True) -> dict[str, torch.Tensor]:
    """Run ``model`` over ``dataset`` in order; returns ``{key: float32 CPU tensor [N, ...]}``.

    The model is left on ``device`` (in its previous train/eval mode). Inference is float32.
    """
    keys = (keys,) if isinstance(keys, str) else tuple(keys)
    collected: dict[str, list[torch.Tensor]] = {k: [] for k in keys}
    for _, outputs in _inference_batches(model, dataset, batch_size, device, progress, "predict"):
        missing = [k for k in keys if k not in outputs]
        if missing:
            raise KeyError(f"keys {missing} not in the model's outputs {list(outputs)}")
        for k in keys:
            value = outputs[k]
            collected[k].append(value.float().cpu() if value.is_floating_point() else value.cpu())
    return {k: torch.cat(v) for k, v in collected.items()}


def range_label(depth_range: Sequence[float] | None) -> str:
    """``None`` -> "all", ``(0, 4)`` -> "0-4" (metres)."""
    if depth_range is None:
        return "all"
    lo, hi = depth_range
    return f"{lo:g}-{hi:g}"


def evaluate(model: nn.Module, dataset: Sized, *, protocol: str = "synthetic",
             depth_ranges: Sequence[Sequence[float] | None] = (None,), classes: int | None = None,
             batch_size: int = 8, device: str = "auto", gt_key: str | None = None,
             progress: bool = True) -> EvalResult:
    """Depth metrics (and semantic mIoU) of ``model`` on ``dataset`` under ``protocol``.

    Args:
        protocol: a name of :func:`depthstudy.metrics.protocols` (``synthetic``, ``cliffnet``, ...).
        depth_ranges: GT ranges in metres, e.g. ``(None, (0, 4), (0, 6))``; None = all valid pixels.
        classes: number of semantic classes; with a ``semantic`` output, mIoU and pixel accuracy
            come from one confusion matrix over the dataset (label 255 ignored).
        gt_key: sample key of the ground truth (``"depth"`` or ``"raw_depth"``); None = the
            protocol's own ``gt`` field (``raw_depth`` for ``bts``, ``depth`` otherwise).

    A model without a ``depth`` output (a semantic-only network) gets an empty ``per_image`` and
    ``summary`` and only ``semantic``. Predicted depths [N,1,h,w] are gathered on the CPU (float32);
    semantic logits are reduced to labels batch by batch. Per-image rows use the samples' own
    ``index`` values. Under torchrun every process evaluates the whole dataset (no sharding); write
    results from rank 0 only.
    """
    from ..metrics import ConfusionMatrix, depth_metrics, get_protocol, per_image_metrics

    gt_key = get_protocol(protocol).gt if gt_key is None else gt_key
    ranges = [None if r is None else tuple(float(x) for x in r) for r in depth_ranges]
    matrix = ConfusionMatrix(classes) if classes is not None else None
    preds, gts, indices, seen_semantic = [], [], [], False
    for batch, outputs in _inference_batches(model, dataset, batch_size, device, progress, "evaluate"):
        if "depth" in outputs:
            if gt_key not in batch:
                raise KeyError(f"gt_key={gt_key!r} is not a sample key; samples have {list(batch)}")
            preds.append(outputs["depth"].float().cpu())
            gts.append(batch[gt_key])
            indices.append(torch.as_tensor(batch["index"]))
        if matrix is not None and "semantic" in outputs:
            matrix.update(outputs["semantic"].argmax(dim=1).cpu(), batch["semantic"])
            seen_semantic = True
    if not preds and not seen_semantic:
        raise ValueError("evaluate: the model has no 'depth' output and no 'semantic' output was scored "
                         f"(classes={classes}); nothing to evaluate")
    semantic = matrix.compute() if seen_semantic else None
    if not preds:
        return EvalResult(per_image=pd.DataFrame(), summary={}, semantic=semantic, protocol=protocol)
    pred, gt, index = torch.cat(preds), torch.cat(gts), torch.cat(indices).tolist()
    frames, summary = [], {}
    for r in ranges:
        frame = per_image_metrics(pred, gt, protocol=protocol, depth_range=r)
        frame["index"] = [index[i] for i in frame["index"]]
        frame.insert(1, "depth_range", range_label(r))
        frames.append(frame)
        summary[r] = depth_metrics(
            pred, gt, protocol=protocol, depth_range=r, aggregate="image")
    return EvalResult(per_image=pd.concat(frames, ignore_index=True), summary=summary,
                      semantic=semantic, protocol=protocol)
