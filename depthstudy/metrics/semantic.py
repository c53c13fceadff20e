"""Semantic segmentation metrics from one dataset-level confusion matrix.

mIoU, pixel accuracy and mean class accuracy are computed once from the matrix accumulated over
the whole test set (not averaged per image). Pixels whose target is ``ignore_index`` (255, NYU
unlabeled) are left out.
"""

from __future__ import annotations

import numpy as np
import torch

from depthstudy.data.classes import IGNORE_INDEX


def _as_tensor(x: object, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach()
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.asarray(x))
    raise TypeError(f"{name}: expected a torch.Tensor or numpy.ndarray, got {type(x).__name__}")


class ConfusionMatrix:
    """Accumulates a [num_classes, num_classes] matrix: rows = target class, columns = prediction.

    Args:
        num_classes: C, classes 0..C-1.
        ignore_index: target value excluded from every count.
    """

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX):
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes: expected a positive integer, got {num_classes!r}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def _labels(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Predicted labels with the target's shape, from labels or class-dim-at--3 logits."""
        if pred.ndim == target.ndim + 1:
            if pred.shape[-3] != self.num_classes:
                raise ValueError(f"pred: logits have {pred.shape[-3]} channels at dim -3, "
                                 f"expected num_classes={self.num_classes}")
            pred = pred.argmax(dim=-3)
        if pred.shape != target.shape:
            raise ValueError(f"pred and target: shapes {tuple(pred.shape)} and {tuple(target.shape)} "
                             "do not match (pred: labels like target, or logits [B,C,H,W])")
        if pred.is_floating_point():
            raise ValueError("pred: labels must be integers; pass logits with a class dimension instead")
        return pred

    def update(self, pred_labels_or_logits: object, target: object) -> None:
        """Add a batch.

        Args:
            pred_labels_or_logits: labels [B,H,W] (or [H,W]) in 0..C-1, or logits [B,C,H,W]
                (or [C,H,W]); logits are reduced by argmax over the class dimension.
            target: labels [B,H,W] (or [H,W]) in 0..C-1 or ``ignore_index``.
        """
        target_t = _as_tensor(target, "target")
        pred_t = self._labels(_as_tensor(pred_labels_or_logits, "pred_labels_or_logits"), target_t)
        target_t = target_t.to("cpu", torch.int64).reshape(-1)
        pred_t = pred_t.to("cpu", torch.int64).reshape(-1)
        keep = target_t != self.ignore_index
        target_t, pred_t = target_t[keep], pred_t[keep]
        c = self.num_classes
        for name, labels in (("target", target_t), ("pred", pred_t)):
            if labels.numel() and (labels.min() < 0 or labels.max() >= c):
                raise ValueError(f"{name}: labels must lie in 0..{c - 1} (or ignore_index="
                                 f"{self.ignore_index} in target), got {labels.min()}..{labels.max()}")
        self.matrix += torch.bincount(target_t * c + pred_t, minlength=c * c).reshape(c, c)

    def compute(self) -> dict:
        """Metrics of everything accumulated so far.

        Returns:
            ``miou``: mean IoU over the classes present in the target or the prediction (a class
            absent from both has an undefined IoU and is excluded from the mean; a class predicted
            but absent from the target has IoU 0 and is included); ``pixel_acc``: correct /
            counted pixels; ``mean_acc``: mean per-class recall over the classes present in the
            target; ``iou_per_class``: list of C floats, NaN for classes absent from both.

        Raises:
            ValueError: no counted pixel yet.
        """
        m = self.matrix.to(torch.float64)
        total = m.sum()
        if total == 0:
            raise ValueError("ConfusionMatrix: no labelled pixel counted (all ignored or no update)")
        tp = m.diagonal()
        in_target, in_pred = m.sum(dim=1), m.sum(dim=0)
        union = in_target + in_pred - tp
        iou = torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))
        present = in_target > 0
        return {
            "miou": float(iou[union > 0].mean()),
            "pixel_acc": float(tp.sum() / total),
            "mean_acc": float((tp[present] / in_target[present]).mean()),
            "iou_per_class": [float(v) for v in iou],
        }


def semantic_metrics(pred: object, target: object, num_classes: int,
                     ignore_index: int = IGNORE_INDEX) -> dict:
    """One-shot :class:`ConfusionMatrix` over ``pred`` (labels or logits) and ``target``."""
    matrix = ConfusionMatrix(num_classes, ignore_index)
    matrix.update(pred, target)
    return matrix.compute()
