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

A relative value is read against the current working directory; ``depthstudy run`` makes these
variables (and ``DEPTHSTUDY_NYU_ROOT``, ``DEPTHSTUDY_PRETRAINED``) absolute before any kernel
starts, since kernels run inside ``notebooks/`` (Decision X14). A variable naming a regular file
where a folder is expected raises ``ValueError`` naming it.
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


#: Environment variables holding a folder (True) or a file (False).
PATH_VARIABLES = {"DEPTHSTUDY_RESULTS": True, "DEPTHSTUDY_CACHE": True, "DEPTHSTUDY_NYU_ROOT": True,
                  "DEPTHSTUDY_PRETRAINED": False}


def env_folder(name: str) -> Path | None:
    """The folder named by environment variable ``name`` (None when unset or empty).

    Raises ``ValueError`` naming the variable when the path exists and is not a folder.
    """
    value = os.environ.get(name)
    return _checked(name, value, folder=True) if value else None


def absolute_env_paths(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The set :data:`PATH_VARIABLES` of ``environ`` (default ``os.environ``), made absolute
    against the current working directory; raises ``ValueError`` naming a variable whose path
    has the wrong kind (a file for a folder or a folder for a file)."""
    environ = os.environ if environ is None else environ
    return {name: str(_checked(name, environ[name], folder).absolute())
            for name, folder in PATH_VARIABLES.items() if environ.get(name)}


def _checked(name: str, value: str, folder: bool) -> Path:
    path = Path(value).expanduser()
    if folder and path.exists() and not path.is_dir():
        raise ValueError(f"{name}={value} is a file, not a folder; point {name} at a folder "
                         "(it is created if missing) or unset it")
    if not folder and path.is_dir():
        raise ValueError(f"{name}={value} is a folder; expected a file (a torchvision-format ResNet "
                         "state dict saved with torch.save)")
    return path


def results_dir() -> Path:
    """Root of ``results/`` (``results/<profile>/<study>/...`` lives below it)."""
    env = env_folder("DEPTHSTUDY_RESULTS")
    if env:
        return env
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
    env = env_folder("DEPTHSTUDY_CACHE")
    if env:
        return env
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
