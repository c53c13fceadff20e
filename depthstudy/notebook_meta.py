"""Notebook metadata as a Jupyter kernel writes it, so opening a notebook changes no tracked file.

When JupyterLab connects a kernel to a notebook it replaces ``metadata.kernelspec`` with the
kernel spec (name, display name, language) and ``metadata.language_info`` with the kernel's
``kernel_info`` reply; a notebook committed with less is marked modified and autosave rewrites it.
:func:`kernel_metadata` builds both from the installed ``python3`` kernel spec and ipykernel's
``language_info`` (the same objects a kernel connect uses) and :func:`normalise` writes them into a
notebook, in nbformat's own serialisation. ``language_info.version`` is the Python of the
environment this runs in: normalise with the project's environment (``.venv``), the one
``make lab`` starts kernels from.

Re-apply after editing notebooks (e.g. after a merge); ``--check`` lists the files that differ::

    python -m depthstudy.notebook_meta notebooks/*.ipynb
    python -m depthstudy.notebook_meta --check notebooks/*.ipynb
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import nbformat

KERNEL_NAME = "python3"


def kernel_metadata(kernel_name: str = KERNEL_NAME) -> dict[str, dict]:
    """``{"kernelspec": ..., "language_info": ...}`` as a kernel connect writes them."""
    from ipykernel.ipkernel import IPythonKernel
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(kernel_name)
    return {"kernelspec": {"display_name": spec.display_name, "language": spec.language, "name": kernel_name},
            "language_info": dict(IPythonKernel.language_info)}


def normalised_text(path: str | Path, metadata: dict[str, dict] | None = None) -> str:
    """The notebook at ``path`` serialised by nbformat with ``metadata`` (default
    :func:`kernel_metadata`) in place of its kernelspec and language_info."""
    nb = nbformat.read(Path(path), as_version=4)
    nb.metadata.update(metadata or kernel_metadata())
    return nbformat.writes(nb) + "\n"


def normalise(path: str | Path, metadata: dict[str, dict] | None = None, *, check: bool = False) -> bool:
    """Write :func:`normalised_text` to ``path`` (or only compare when ``check``); True if it differed."""
    path = Path(path)
    text = normalised_text(path, metadata)
    changed = path.read_text(encoding="utf-8") != text
    if changed and not check:
        from .io import write_text

        write_text(path, text)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """Normalise (or ``--check``) the given notebooks; exit 1 when ``--check`` finds a difference."""
    parser = argparse.ArgumentParser(prog="python -m depthstudy.notebook_meta", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="only list the notebooks that would change")
    args = parser.parse_args(argv)
    metadata = kernel_metadata()
    changed = [p for p in args.notebooks if normalise(p, metadata, check=args.check)]
    for p in changed:
        print(f"{'differs' if args.check else 'normalised'}: {p}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
