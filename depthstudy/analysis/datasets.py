"""Dataset statistics for the datasets notebook: depth distribution, class and scene counts.

Works on any dataset in the common sample format; iterates once over the dataset.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ..data.classes import IGNORE_INDEX


@dataclass
class DatasetStats:
    """Pixel-level statistics of one split.

    ``depths`` holds every valid depth pixel (metres, float32); ``class_pixels`` the pixel count
    per 0-based class id; ``scenes`` (scene_name -> images) and ``scene_types`` (type -> images).
    """

    n_images: int
    depths: np.ndarray
    hole_fraction: float
    class_pixels: np.ndarray
    scenes: Counter = field(default_factory=Counter)
    scene_types: Counter = field(default_factory=Counter)

    def summary(self) -> dict[str, float]:
        """Scalar statistics: fractions of valid pixels in depth bands, median/99th pct depth."""
        d = self.depths
        return {
            "n_images": float(self.n_images),
            "n_scenes": float(len(self.scenes)),
            "frac_depth_lt1m": float(np.mean(d < 1.0)),
            "frac_depth_1_4m": float(np.mean((d >= 1.0) & (d <= 4.0))),
            "frac_depth_gt4m": float(np.mean(d > 4.0)),
            "frac_depth_gt6m": float(np.mean(d > 6.0)),
            "median_depth_m": float(np.median(d)),
            "p99_depth_m": float(np.percentile(d, 99)),
            "raw_hole_fraction": float(self.hole_fraction),
        }

    def class_fractions(self) -> np.ndarray:
        """Per-class fraction of labelled pixels [C]."""
        total = self.class_pixels.sum()
        return self.class_pixels / total if total else self.class_pixels.astype(float)


def collect_stats(dataset, num_classes: int, *, batch_size: int = 32) -> DatasetStats:
    """One pass over ``dataset``: valid depths, raw-depth holes, class pixels, scene counts."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    depths, holes, pixels = [], 0, 0
    class_pixels = np.zeros(num_classes, dtype=np.int64)
    scenes: Counter = Counter()
    types: Counter = Counter()
    for batch in loader:
        d = batch["depth"]
        valid = torch.isfinite(d) & (d > 0)
        depths.append(d[valid].numpy().astype(np.float32))
        holes += int((batch["raw_depth"] <= 0).sum())
        pixels += batch["raw_depth"].numel()
        sem = batch["semantic"]
        sem = sem[sem != IGNORE_INDEX]
        class_pixels += np.bincount(sem.numpy().ravel(), minlength=num_classes)[:num_classes]
        scenes.update(batch["scene_name"])
        types.update(batch["scene_type"])
    return DatasetStats(len(dataset), np.concatenate(depths), holes / max(pixels, 1),
                        class_pixels, scenes, types)


def scene_table(stats: dict[str, DatasetStats]) -> pd.DataFrame:
    """Images per scene type for each split: rows scene types, columns splits (+ scenes)."""
    cols = {}
    for split, st in stats.items():
        cols[f"{split} images"] = pd.Series(st.scene_types)
        per_type = Counter(name.rsplit("_", 1)[0] for name in st.scenes)
        cols[f"{split} scenes"] = pd.Series(per_type)
    return pd.DataFrame(cols).fillna(0).astype(int).sort_index()
