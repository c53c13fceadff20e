"""JupyterLab use: committed notebooks carry the metadata a kernel connect writes, and a notebook
run through a kernel with no DEPTHSTUDY_RESULTS leaves tracked files alone and writes nothing
under ``results/`` (Decision X21)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from depthstudy import notebook_meta, paths

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_metadata_is_what_a_kernel_writes(path):
    assert not notebook_meta.normalise(path, check=True), (
        f"{path.name}: kernelspec/language_info differ from the kernel's; run "
        f"python -m depthstudy.notebook_meta notebooks/*.ipynb")


def test_normalise_fills_the_kernel_metadata(tmp_path):
    partial = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
               "language_info": {"name": "python"}}
    nb = nbformat.v4.new_notebook(metadata=partial)
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    assert notebook_meta.main([str(path), "--check"]) == 1
    assert notebook_meta.normalise(path) and not notebook_meta.normalise(path)
    assert nbformat.read(path, as_version=4).metadata["language_info"]["pygments_lexer"] == "ipython3"


def _tracked_state() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout


def _files_newer(folder: Path, since: float) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and p.stat().st_mtime >= since]


def test_a_kernel_run_without_environment_writes_to_scratch(tmp_path, monkeypatch):
    """Run 01_datasets (smoke) as JupyterLab would: a copy, its folder as cwd, no results root set."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to compare tracked files")
    from nbclient import NotebookClient

    monkeypatch.delenv("DEPTHSTUDY_RESULTS", raising=False)
    monkeypatch.setenv("DEPTHSTUDY_PROFILE", "smoke")
    monkeypatch.setenv("DEPTHSTUDY_CACHE", str(tmp_path / "cache"))
    copy = tmp_path / "01_datasets.ipynb"
    shutil.copy(ROOT / "notebooks" / "01_datasets.ipynb", copy)
    nb = nbformat.read(copy, as_version=4)
    committed = dict(nb.metadata)
    before, start = _tracked_state(), time.time()
    NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(ROOT / "notebooks")}}
                   ).execute()
    assert nb.metadata["language_info"] == committed["language_info"]  # the kernel's own reply
    assert _tracked_state() == before
    assert _files_newer(ROOT / "results", start) == []
    scratch = tmp_path / "cache" / "scratch-results" / "smoke" / "datasets"
    assert (scratch / "run.json").is_file() and (scratch / "figures" / "samples.png").is_file()


def test_scratch_root_only_inside_a_kernel(monkeypatch):
    monkeypatch.delenv("DEPTHSTUDY_RESULTS", raising=False)
    assert not paths.in_jupyter_kernel()
    assert paths.results_dir() != paths.scratch_results_dir()
