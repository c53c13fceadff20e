"""Progress bar for training and inference: ``tqdm.auto`` (a widget in Jupyter, text in a terminal)."""

from __future__ import annotations

import os

from tqdm.auto import tqdm

from .distributed import is_main_process


def progress_enabled(requested: bool) -> bool:
    """True when ``requested``, ``$TQDM_DISABLE`` is unset/empty/"0" and this is rank 0."""
    env_off = os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false")
    return bool(requested) and not env_off and is_main_process()


def progress_bar(total: int, *, initial: int = 0, desc: str = "train", enabled: bool = True) -> tqdm:
    """A bar over ``total`` items starting at ``initial`` (a resumed run starts part-way)."""
    return tqdm(total=total, initial=initial, desc=desc, unit="step" if desc == "train" else "batch",
                disable=not progress_enabled(enabled), dynamic_ncols=True, leave=True)
