"""The one sample format shared by every dataset (see README, "Datasets").

=============== ================================ ===============================================
key             type                             meaning
=============== ================================ ===============================================
image           float32 tensor [3,H,W] in [0,1]  RGB
depth           float32 tensor [1,H,W]           metres; <= 0 or non-finite = invalid
raw_depth       float32 tensor [1,H,W]           sensor depth with holes (0 = hole)
semantic        int64 tensor [H,W]               0..C-1, IGNORE_INDEX (255) = unlabeled
scene           int                              scene-instance id
scene_name      str                              e.g. ``kitchen_0028``
scene_type      str                              e.g. ``kitchen``
index           int                              0-based index in the source set
=============== ================================ ===============================================
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from .classes import IGNORE_INDEX

SAMPLE_KEYS = ("image", "depth", "raw_depth", "semantic", "scene", "scene_name", "scene_type", "index")

__all__ = ["SAMPLE_KEYS", "IGNORE_INDEX", "check_sample"]


def check_sample(sample: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming the key if ``sample`` does not follow the sample format."""
    missing = [k for k in SAMPLE_KEYS if k not in sample]
    if missing:
        raise ValueError(f"sample is missing keys {missing}; expected {list(SAMPLE_KEYS)}")
    image, depth, raw, sem = sample["image"], sample["depth"], sample["raw_depth"], sample["semantic"]
    if not (isinstance(image, torch.Tensor) and image.dtype == torch.float32 and image.ndim == 3
            and image.shape[0] == 3):
        raise ValueError(f"sample['image'] must be float32 [3,H,W]; got {_describe(image)}")
    h, w = image.shape[1:]
    for key, t in (("depth", depth), ("raw_depth", raw)):
        if not (isinstance(t, torch.Tensor) and t.dtype == torch.float32 and tuple(t.shape) == (1, h, w)):
            raise ValueError(f"sample['{key}'] must be float32 [1,{h},{w}]; got {_describe(t)}")
    if not (isinstance(sem, torch.Tensor) and sem.dtype == torch.int64 and tuple(sem.shape) == (h, w)):
        raise ValueError(f"sample['semantic'] must be int64 [{h},{w}]; got {_describe(sem)}")


def _describe(t: Any) -> str:
    if isinstance(t, torch.Tensor):
        return f"{t.dtype} {list(t.shape)}"
    return type(t).__name__
