"""Nothing computed is lost, and bad input names itself: reruns, full disks, damaged files, bad values.

Each test builds the bad file or value itself (a truncated checkpoint, a full disk via a patched
writer, an overlapping splits.mat ...) and checks the message names the file or parameter.
"""

from __future__ import annotations

import errno
import json
import os

import numpy as np
import pytest
import torch

from depthstudy import cli, io, paths, report, results, runner
from depthstudy.data.nyu_fixture import write_fixture_root, write_splits_fixture
from depthstudy.data.nyuv2 import NYUv2Labeled, load_split_indices
from depthstudy.engine.checkpoint import load_checkpoint, save_checkpoint
from depthstudy.metrics.depth import depth_metrics
from depthstudy.models.resnet import load_backbone_weights, resnet
from depthstudy.profiles import get_profile
from depthstudy.results import store


def _writer(root, **kw):
    return results.StudyWriter("loss_comparison", "smoke", root=root, dataset="synthrooms",
                               protocol="synthetic", params={}, **kw)


def _complete_study(root, seeds=(0, 1)):
    w = _writer(root)
    for s in seeds:
        w.add("l1", s, {"rmse": 0.5 + s}, n_images=3)
    w.finish()
    return root / "smoke" / "loss_comparison"


# 1. a rerun never destroys a complete study before its replacement is complete

def test_killed_rerun_keeps_the_old_complete_study(tmp_path):
    folder = _complete_study(tmp_path)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    rerun = _writer(tmp_path)                                  # a notebook rerun (resume=False) ...
    rerun.add("l1", 0, {"rmse": 9.0}, n_images=3)              # ... killed after its first add
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    assert results.load("smoke", "loss_comparison", root=tmp_path)["value"].tolist() == [0.5, 1.5]
    summary, found, _ = report.gather("smoke", root=tmp_path)
    assert found == ["loss_comparison"] and summary["n_seeds"].tolist() == [2]


def test_finished_rerun_replaces_the_study_and_later_figures_land_there(tmp_path):
    folder = _complete_study(tmp_path)
    rerun = _writer(tmp_path)
    rerun.add("l1", 5, {"rmse": 2.0}, n_images=3)
    rerun.finish()
    assert results.load("smoke", "loss_comparison", root=tmp_path)["seed"].tolist() == [5]
    assert rerun.figures_dir == folder / "figures"
    assert sorted(p.name for p in folder.parent.iterdir()) == ["loss_comparison"]   # no staging left


def test_resume_continues_a_killed_run_from_its_staged_rows(tmp_path):
    _complete_study(tmp_path)
    killed = _writer(tmp_path)
    killed.add("l1", 7, {"rmse": 1.0}, n_images=3)
    again = _writer(tmp_path, resume=True)
    assert again.done("l1", 7) and not again.done("l1", 0)


def test_folder_whose_files_disagree_is_incomplete_not_present(tmp_path):
    folder = _complete_study(tmp_path)
    metrics = store.read_metrics(folder / "metrics.csv")
    store.write_csv(folder / "metrics.csv", metrics.head(1))    # the pre-fix rerun's footprint
    with pytest.raises(results.IncompleteStudyError, match=r"loss_comparison is incomplete: metrics.csv "
                       r"holds 1 rows but run.json records 2"):
        results.load("smoke", "loss_comparison", "summary", root=tmp_path)
    with pytest.warns(UserWarning, match="incomplete and left out"):
        _, found, missing = report.gather("smoke", root=tmp_path)
    assert found == [] and "loss_comparison" in missing
    (folder / "run.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"run.json missing \(the run did not finish\)"):
        results.load("smoke", "loss_comparison", root=tmp_path)


def test_truncated_metrics_csv_names_the_file(tmp_path):
    folder = _complete_study(tmp_path)
    text = (folder / "metrics.csv").read_text()
    (folder / "metrics.csv").write_text(text[: text.rindex(",") - 2])
    with pytest.raises(ValueError, match=r"metrics.csv is damaged or truncated.*rerun the notebook"):
        store.read_metrics(folder / "metrics.csv")


# 2. full disks: earlier files intact, the path named

def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_full_disk_keeps_the_earlier_file_and_names_it(tmp_path, monkeypatch):
    target = io.write_text(tmp_path / "kept.txt", "earlier")
    monkeypatch.setattr(type(target), "write_bytes", _enospc)
    with pytest.raises(OSError, match=r"could not write .*kept.txt \(No space left on device\); its previous "
                                      r"version is kept; free some space") as info:
        io.write_text(target, "later")
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert target.read_text() == "earlier" and sorted(os.listdir(tmp_path)) == ["kept.txt"]


def test_full_disk_during_checkpoint_keeps_the_earlier_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "last.pt", {"step": 1})
    before = path.read_bytes()

    def torch_full_disk(obj, f, *args, **kwargs):
        open(f, "wb").write(b"PK\x03\x04 half")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0")

    monkeypatch.setattr(torch, "save", torch_full_disk)
    with pytest.raises(OSError, match=r"could not write .*last.pt \(torch.save failed.*bytes free"):
        save_checkpoint(path, {"step": 2})
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["last.pt"]


@pytest.mark.parametrize("left", ['{"cells": [{"cell_t', ""])   # what a nearly full / full disk leaves
def test_unreadable_executed_notebook_keeps_the_previous_copy(tmp_path, left):
    final = tmp_path / "01_x.ipynb"
    final.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    partial = tmp_path / ".01_x.running.ipynb"
    partial.write_text(left)
    error = runner._install_executed(partial, final)
    assert f"the previous {final} is kept" in error and not partial.exists()
    assert json.loads(final.read_text())["nbformat"] == 4



def test_installed_executed_notebook_names_no_folder_of_this_machine(tmp_path):
    import nbformat

    final = tmp_path / "smoke" / "notebooks" / "01_x.ipynb"
    final.parent.mkdir(parents=True)
    partial = final.parent / ".01_x.running.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"input_path": "/home/someone/depthstudy/notebooks/01_x.ipynb",
                                "output_path": str(partial), "duration": 1.5}
    nbformat.write(nb, partial)
    assert runner._install_executed(partial, final) == "" and not partial.exists()
    record = json.loads(final.read_text())["metadata"]["papermill"]
    assert record == {"input_path": "notebooks/01_x.ipynb", "output_path": "smoke/notebooks/01_x.ipynb",
                      "duration": 1.5}


# 3. NYU splits

@pytest.mark.parametrize("train, test, message", [
    ([1, 2, 3], [3, 4], r"share 1 indices \(e.g. \[3\]\).*must be disjoint"),
    ([1, 1, 2], [3, 4], r"'trainNdxs' repeats 1 indices"),
    ([], [3, 4], r"'trainNdxs' is empty"),
])
def test_bad_splits_are_refused_naming_the_file(tmp_path, train, test, message):
    write_fixture_root(tmp_path, n_images=4, height=6, width=8)
    write_splits_fixture(tmp_path / "splits.mat", train, test)
    with pytest.raises(ValueError, match=r"splits\.mat.*" + message):
        NYUv2Labeled(tmp_path, split="train")


@pytest.mark.parametrize("content", [b"", b"<html><body>404</body></html>", b"MATLAB 5.0 MAT-file" + b"\0" * 40])
@pytest.mark.parametrize("name", ["splits.mat", "classMapping40.mat"])
def test_empty_truncated_or_html_mat_files_name_themselves(tmp_path, name, content):
    write_fixture_root(tmp_path, n_images=4, height=6, width=8)
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ValueError, match=rf"{name} \({len(content)} bytes\): cannot be read as a MATLAB v5 "
                                         r".*depthstudy data verify"):
        NYUv2Labeled(tmp_path, split="train", classes=40)


def test_good_splits_still_load(tmp_path):
    write_splits_fixture(tmp_path / "splits.mat", [1, 2], [3, 4])
    assert load_split_indices(tmp_path / "splits.mat", "test", 4).tolist() == [2, 3]


# 4. environment paths

def test_env_paths_are_made_absolute_against_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good").mkdir()
    monkeypatch.setenv("DEPTHSTUDY_NYU_ROOT", "good")
    monkeypatch.setenv("DEPTHSTUDY_RESULTS", "relres")
    monkeypatch.delenv("DEPTHSTUDY_PRETRAINED", raising=False)
    monkeypatch.setenv("DEPTHSTUDY_CACHE", str(tmp_path / "cache"))
    got = paths.absolute_env_paths()
    assert got["DEPTHSTUDY_NYU_ROOT"] == str(tmp_path / "good")
    assert got["DEPTHSTUDY_RESULTS"] == str(tmp_path / "relres")


@pytest.mark.parametrize("name", ["DEPTHSTUDY_RESULTS", "DEPTHSTUDY_CACHE"])
def test_env_folder_that_is_a_file_is_named(tmp_path, monkeypatch, name):
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv(name, str(tmp_path / "afile"))
    with pytest.raises(ValueError, match=rf"{name}=.*afile is a file, not a folder"):
        paths.results_dir() if name == "DEPTHSTUDY_RESULTS" else paths.cache_dir()
    with pytest.raises(ValueError, match=name):
        paths.absolute_env_paths()


def test_pretrained_that_is_a_folder_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPTHSTUDY_PRETRAINED", str(tmp_path))
    with pytest.raises(ValueError, match=r"DEPTHSTUDY_PRETRAINED=.* is a folder; expected a file"):
        paths.absolute_env_paths()


# 5. depth metrics

GT = np.full((48, 64), 2.0)


@pytest.mark.parametrize("bad", [np.ones((48, 64), bool), np.full((48, 64), "2"), GT.astype(object),
                                 GT.astype(complex), torch.ones(48, 64, dtype=torch.bool)])
def test_non_numeric_depth_is_refused(bad):
    with pytest.raises(TypeError, match=r"pred: dtype .* is not a depth"):
        depth_metrics(bad, GT)


def test_millimetre_depth_gets_a_units_hint():
    with pytest.raises(ValueError, match=r"gt reaches 2000.*metres.*divided by 1000"):
        depth_metrics(GT, (GT * 1000).astype(np.uint16))


def test_aspect_ratio_change_is_refused_unless_asked():
    with pytest.raises(ValueError, match=r"pred is 64x48 and gt 48x64.*transposed.*allow_aspect_change=True"):
        depth_metrics(np.full((64, 48), 2.0), GT)
    assert depth_metrics(np.full((64, 48), 2.0), GT, allow_aspect_change=True)["rmse"] == 0.0
    assert depth_metrics(np.full((24, 32), 2.0), GT)["rmse"] == 0.0      # same aspect: resized


# 6. damaged checkpoints and weight files

@pytest.mark.parametrize("cut", [0, 40])
def test_truncated_checkpoint_names_run_and_remedy(tmp_path, cut):
    path = save_checkpoint(tmp_path / "study" / "l1" / "seed0-abc" / "last.pt",
                           {"model": {"w": torch.zeros(100)}, "step": 1})
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(ValueError, match=rf"checkpoint .*last.pt \({cut} bytes\) of run 'study/l1/seed0-abc' "
                                         r"cannot be read.*Delete it to retrain that run"):
        load_checkpoint(path)


@pytest.mark.parametrize("content", [b"", b"garbage, not a torch file", None])
def test_bad_pretrained_file_names_itself_and_never_suggests_unsafe_loading(tmp_path, content):
    path = tmp_path / "resnet18.pth"
    if content is None:
        torch.save({"fc.weight": torch.zeros(1), "obj": object()}, path)   # a non-tensor pickle
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=r"resnet18.pth .*not a readable PyTorch file of tensors.*"
                                         r"DEPTHSTUDY_PRETRAINED") as info:
        load_backbone_weights(resnet(18), path)
    assert "weights_only" not in str(info.value) and info.value.__cause__ is None


# 7. -p values type-checked before any kernel

@pytest.mark.parametrize("item, message", [
    ("seed=abc", r"-p seed='abc': expected an integer \(01_datasets: seed = 0"),
    ("steps=abc", r"-p steps='abc': expected an integer \(02_structures"),
    ("seeds=x,y", r"-p seeds='x,y': expected comma-separated non-negative integers"),
    ("steps=true", r"-p steps=True: expected an integer"),
])
def test_bad_parameter_types_are_named_before_running(item, message):
    specs = runner.select(runner.discover(), ["01_datasets", "02_structures"])
    with pytest.raises(ValueError, match=message):
        runner.check_param_types(specs, runner.parse_params([item]))


@pytest.mark.parametrize("item, parsed", [("seed=3", 3), ("steps=5", 5), ("seeds=0,1", "0,1"), ("seeds=2", 2)])
def test_good_parameter_values_pass(item, parsed):
    specs = runner.select(runner.discover(), ["01_datasets", "02_structures"])
    params = runner.parse_params([item])
    assert list(params.values()) == [parsed]
    assert runner.check_param_types(specs, params) is None   # raises ValueError on a bad value


# 8. smaller items

def test_pretrained_ignored_by_a_narrow_profile_warns(monkeypatch):
    monkeypatch.setenv("DEPTHSTUDY_PRETRAINED", "/weights/resnet50.pth")
    with pytest.warns(UserWarning, match=r"DEPTHSTUDY_PRETRAINED=.* is ignored by profile 'smoke'.*width 0.25"):
        get_profile("smoke")


@pytest.mark.slow
def test_ctrl_c_keeps_the_previous_executed_notebook_and_leaves_no_partial(tmp_path):
    """SIGINT to the runner's process group (what Ctrl-C sends) mid-notebook."""
    import signal
    import subprocess
    import sys
    import time

    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    folder, out = tmp_path / "notebooks", tmp_path / "smoke" / "notebooks"
    folder.mkdir()
    out.mkdir(parents=True)
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [new_code_cell("profile = 'smoke'", metadata={"tags": ["parameters"]}),
                new_code_cell("import time\ntime.sleep(120)")]
    nbformat.write(nb, folder / "01_sleep.ipynb")
    (out / "01_sleep.ipynb").write_text("previous complete copy")
    code = ("from depthstudy import runner\nif __name__ == '__main__':\n    "
            f"runner.run('smoke', notebook_dir={str(folder)!r}, results_root={str(tmp_path)!r})")
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stderr=subprocess.DEVNULL,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # a shell's
    # background jobs ignore SIGINT, and an ignored signal stays ignored in children
    partial, deadline = out / ".01_sleep.running.ipynb", time.monotonic() + 120
    while not partial.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert partial.exists()
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=60) != 0
    assert sorted(os.listdir(out)) == ["01_sleep.ipynb"]
    assert (out / "01_sleep.ipynb").read_text() == "previous complete copy"


def test_ctrl_c_prints_one_line(monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run", interrupted)
    assert cli.main(["run", "--profile", "smoke"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "previous complete results" in err and "Traceback" not in err


def test_timeout_message_is_short():
    from nbclient.exceptions import CellTimeoutError

    assert runner._short_error(CellTimeoutError("Cell execution timed out"), 30) == \
        "a cell ran longer than --timeout 30 s and was stopped"

