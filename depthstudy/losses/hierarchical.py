"""CLIFFNet's hierarchical embedding loss (paper Eq. 3, as run in the authors' ``train.py``).

    total = w0 * L1(pred, gt) + r * sum_k w_k * mean |G_k(gt) - G_k(pred)|

G_k are the features of a frozen hierarchical embedding generator (HEG-S, HEG-R, a random HEG or
anything with the same interface): ``heg.embed(depth [B,1,H,W], layers) -> list of tensors``,
the post-BN, post-LeakyReLU output of conv layer k for each k in ``layers``. Layer 0 is the depth
itself (the masked L1 term, weight w0). Defaults: layers (2, 4), weights (1, 10, 15), warm-up 100.
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor, nn

from . import LOSSES
from .masking import depth_pair, masked_mean, valid_depth

__all__ = ["HierarchicalLoss", "load_heg"]


def load_heg(path: str | os.PathLike) -> nn.Module:
    """Load a HEG from a file written by ``torch.save``.

    Accepted contents: a whole module with an ``embed`` method, or a mapping with ``"model"``
    (a name for :func:`depthstudy.models.build`, e.g. ``"heg_s"``), optional ``"options"`` (its
    keyword options) and the weights under ``"state_dict"`` or ``"model_state_dict"``, loaded
    with strict key matching.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"hierarchical: heg file {os.fspath(path)!r} does not exist")
    obj = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(obj, nn.Module):
        return obj
    if isinstance(obj, Mapping) and isinstance(obj.get("model"), str):
        state = obj.get("state_dict", obj.get("model_state_dict"))
        if state is None:
            raise ValueError(
                f"hierarchical: heg file {os.fspath(path)!r} has no 'state_dict' or 'model_state_dict'"
            )
        from ..models import build as build_model

        model = build_model(obj["model"], **dict(obj.get("options", {})))
        model.load_state_dict(state)
        return model
    raise ValueError(
        f"hierarchical: heg file {os.fspath(path)!r} holds {type(obj).__name__}; expected a module with "
        "embed() or a dict with 'model' (name), 'options' and 'state_dict'"
    )


@LOSSES.register("hierarchical")
class HierarchicalLoss(nn.Module):
    """Hierarchical embedding loss with a frozen HEG (CLIFFNet Eq. 3 plus the code's warm-up).

    Args:
        heg: a module with ``embed(depth, layers) -> list[Tensor]``, or a path for
            :func:`load_heg`. It is put in eval mode (BN uses running statistics) and frozen
            (``requires_grad_(False)``, in place); gradients still flow through it to the
            prediction. It stays in eval mode when the loss is switched to training mode.
        layers: HEG conv layers (1-based, increasing) whose features enter the loss.
        weights: ``(w0, w_k for k in layers)``; w0 weighs the masked L1 on the depth (layer 0).
        warmup_steps: the feature terms are scaled by r = min(1, step / warmup_steps); 0 = no
            warm-up. This linear warm-up is from the authors' code (``perc_loss_warmup = 100``),
            not from the paper.

    Step counter: each call in training mode uses r of the current ``step`` and then increments
    it (so the first training call has r = 0, as in the code, whose ``global_step`` starts at 0);
    calls in eval mode use the current r and do not count. The engine may set the counter with
    :meth:`set_step` (e.g. on resume).

    GT and prediction go through the HEG in one batch (``cat`` along the batch axis), as in the
    code. Masking (our choice): the code takes the feature L1 over all elements without a mask
    (its hole-filled training GT had no holes); here invalid GT pixels are filled with the
    detached prediction before embedding, so they contribute about 0 to the feature terms. The
    feature terms are means over all elements (B x channels x h x w) of each layer.

    Returns ``{"total", "l1", "heg_<k>" for k in layers}``; the entries are unweighted.
    """

    def __init__(
        self,
        heg: nn.Module | str | os.PathLike,
        layers: Sequence[int] = (2, 4),
        weights: Sequence[float] = (1.0, 10.0, 15.0),
        warmup_steps: int = 100,
    ):
        super().__init__()
        if isinstance(heg, (str, os.PathLike)):
            heg = load_heg(heg)
        if not (isinstance(heg, nn.Module) and callable(getattr(heg, "embed", None))):
            raise TypeError(
                f"hierarchical: heg must be a module with an embed() method or a path; got {type(heg).__name__}"
            )
        layers = tuple(int(k) for k in layers)
        if not layers or any(k < 1 for k in layers) or list(layers) != sorted(set(layers)):
            raise ValueError(f"hierarchical: layers must be increasing integers >= 1; got {layers}")
        weights = tuple(float(w) for w in weights)
        if len(weights) != len(layers) + 1:
            raise ValueError(
                f"hierarchical: weights needs {len(layers) + 1} values (w0 for the depth, then one per "
                f"layer of {layers}); got {weights}"
            )
        if not all(math.isfinite(w) and w >= 0 for w in weights):
            raise ValueError(f"hierarchical: weights must be finite and >= 0; got {weights}")
        if int(warmup_steps) != warmup_steps or warmup_steps < 0:
            raise ValueError(f"hierarchical: warmup_steps must be an integer >= 0; got {warmup_steps}")
        self.heg = heg.eval().requires_grad_(False)
        self.layers = layers
        self.weights = weights
        self.warmup_steps = int(warmup_steps)
        self.step = 0

    def train(self, mode: bool = True) -> "HierarchicalLoss":
        super().train(mode)
        self.heg.eval()
        return self

    def set_step(self, step: int) -> None:
        """Set the warm-up step counter (training iterations done so far)."""
        if int(step) != step or step < 0:
            raise ValueError(f"hierarchical: step must be an integer >= 0; got {step}")
        self.step = int(step)

    def ramp(self) -> float:
        """Current warm-up factor r = min(1, step / warmup_steps) (1 without warm-up)."""
        if self.warmup_steps == 0:
            return 1.0
        return min(1.0, self.step / self.warmup_steps)

    def forward(self, outputs: Mapping[str, Any], batch: Mapping[str, Any]) -> dict[str, Tensor]:
        pred, gt = depth_pair(outputs, batch)
        mask = valid_depth(gt)
        gt = torch.where(mask, gt, pred.detach())
        r = self.ramp()
        if self.training:
            self.step += 1
        l1 = masked_mean((pred - gt).abs(), mask)
        features = self.heg.embed(torch.cat([gt, pred], dim=0), self.layers)
        if len(features) != len(self.layers):
            raise ValueError(f"hierarchical: heg.embed returned {len(features)} tensors for layers {self.layers}")
        result = {"l1": l1}
        total = self.weights[0] * l1
        for k, w, feature in zip(self.layers, self.weights[1:], features):
            f_gt, f_pred = feature.split(pred.shape[0], dim=0)
            term = (f_gt - f_pred).abs().mean()
            result[f"heg_{k}"] = term
            total = total + r * w * term
        return {"total": total, **result}

    def extra_repr(self) -> str:
        return f"layers={self.layers}, weights={self.weights}, warmup_steps={self.warmup_steps}, step={self.step}"
