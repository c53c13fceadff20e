"""Where depthstudy reads and writes: results, caches, notebooks.

Every location can be overridden by an environment variable so that tests, notebooks run by
papermill and users in JupyterLab agree on one place:

- ``DEPTHSTUDY_RESULTS``: results root. Default: ``<repo>/results`` for a source checkout, else
  ``./results``; but inside a Jupyter kernel (a notebook opened in JupyterLab, or executed by
  nbclient without the variable) the scratch root :func:`scratch_results_dir`,
  ``<cache>/scratch-results``, so an interactive run never writes into the committed
  ``results/`` (Decision X21). ``depthstudy run``, ``make test`` and ``make study`` set the
  variable for their kernels.
- ``DEPTHSTUDY_CACHE``: cache root for generated data (default ``$XDG_CACHE_HOME/depthstudy``
  or ``~/.cache/depthstudy``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def repo_root() -> Path | None:
    """Return the source checkout holding this package, or None for an installed wheel."""
    root = PACKAGE_DIR.parent
    return root if (root / "notebooks").is_dir() and (root / "pyproject.toml").is_file() else None


def results_dir() -> Path:
    """Root of ``results/`` (``results/<profile>/<study>/...`` lives below it)."""
    env = os.environ.get("DEPTHSTUDY_RESULTS")
    if env:
        return Path(env)
    if in_jupyter_kernel():
        return scratch_results_dir()
    root = repo_root()
    return (root / "results") if root else Path.cwd() / "results"


def in_jupyter_kernel() -> bool:
    """True inside a running IPython kernel (JupyterLab, nbclient, papermill)."""
    kernelapp = sys.modules.get("ipykernel.kernelapp")
    return bool(kernelapp is not None and kernelapp.IPKernelApp.initialized())


def scratch_results_dir() -> Path:
    """Results root of interactive notebook runs: ``<cache_dir()>/scratch-results``."""
    return cache_dir() / "scratch-results"


def cache_dir() -> Path:
    """Root of the on-disk cache (generated SynthRooms arrays, etc.)."""
    env = os.environ.get("DEPTHSTUDY_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "depthstudy"


def notebooks_dir() -> Path:
    """The ordered study notebooks (source checkout only)."""
    root = repo_root()
    if root is None:
        raise FileNotFoundError(
            "depthstudy notebooks are only available from a source checkout "
            "(git clone the repository; notebooks/ sits beside depthstudy/)."
        )
    return root / "notebooks"


def manifests_dir() -> Path:
    """The dataset manifests (``data_manifests/*.yaml``)."""
    root = repo_root()
    return (root / "data_manifests") if root else PACKAGE_DIR / "data_manifests"
