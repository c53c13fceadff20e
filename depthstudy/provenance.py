"""Provenance of a run: code version, libraries, device, parameters, data and time.

Recorded in every ``results/<profile>/<study>/run.json`` so that a number can be traced to the code
and the data that produced it.
"""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from depthstudy import paths

LIBRARIES = ("torch", "numpy", "pandas", "scipy")


def git_state(root: Path | None = None) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` of the checkout at ``root``.

    ``commit`` is None outside a git checkout or before the first commit; ``dirty`` is True when
    tracked or untracked (non-ignored) files differ from the commit, None when git is unavailable.
    The ``results/`` folder is excluded: a study run writes there, so it would otherwise always
    look dirty. ``dirty_paths`` lists up to 20 changed paths.
    """
    root = root if root is not None else paths.repo_root()
    if root is None:
        return {"commit": None, "dirty": None, "dirty_paths": []}
    status = _git(root, "--no-optional-locks", "status", "--porcelain", "--", ".", ":(exclude)results")
    commit = _git(root, "rev-parse", "--verify", "--quiet", "HEAD")
    changed = [line.split(maxsplit=1)[-1] for line in (status or "").splitlines()][:20]
    return {"commit": commit or None, "dirty": None if status is None else bool(status),
            "dirty_paths": changed}


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def library_versions() -> dict[str, str | None]:
    """Versions of python, depthstudy and the numeric libraries (None where not installed)."""
    import depthstudy

    versions: dict[str, str | None] = {"python": platform.python_version(),
                                       "depthstudy": depthstudy.__version__}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def describe_device() -> str:
    """The accelerator(s) torch sees, else the CPU, e.g. ``"cuda: 2 x NVIDIA H100"``."""
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None and torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        return "cuda: " + ", ".join(sorted({f"{names.count(n)} x {n}" for n in names}))
    cpu = platform.processor() or platform.machine()
    threads = torch.get_num_threads() if torch is not None else os.cpu_count()
    return f"cpu: {cpu}, {os.cpu_count()} cores, {threads} torch threads"


def utc_now() -> str:
    """Current UTC time, ISO 8601 with seconds (``2024-01-31T12:00:00+00:00``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def provenance(profile: str, params: dict, dataset: dict, device: str | None = None, *,
               started: datetime | None = None) -> dict[str, Any]:
    """The provenance record of one run (JSON-serialisable).

    Args:
        profile: profile name (``smoke``, ``cpu``, ``gpu``, ``nyu``, ...).
        params: the run's parameters (notebook parameters, profile fields).
        dataset: at least ``name``; plus its version, generator parameters or file hash.
        device: a description; default :func:`describe_device`.
        started: UTC start of the run; with it, ``started_utc`` and ``wall_time_s`` are filled.
    """
    if not isinstance(dataset, dict) or "name" not in dataset:
        raise ValueError(f"dataset must be a dict with at least a 'name' key, got {dataset!r}")
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict, got {type(params).__name__}")
    finished = datetime.now(timezone.utc)
    record: dict[str, Any] = {
        "profile": profile,
        "params": params,
        "dataset": dataset,
        "git": git_state(),
        "versions": library_versions(),
        "device": device if device is not None else describe_device(),
        "finished_utc": finished.isoformat(timespec="seconds"),
    }
    if os.environ.get("DEPTHSTUDY_NOTEBOOK"):  # set by depthstudy.runner for each notebook it runs
        record["notebook"] = os.environ["DEPTHSTUDY_NOTEBOOK"]
    if started is not None:
        record["started_utc"] = started.isoformat(timespec="seconds")
        record["wall_time_s"] = round((finished - started).total_seconds(), 3)
    return record
