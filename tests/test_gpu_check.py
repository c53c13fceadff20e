"""The GPU check: its refusal without CUDA and its CPU-safe parts (the eager-vs-fast comparison)."""

from __future__ import annotations

import pytest
import torch

from depthstudy import gpu_check
from depthstudy.profiles import get_profile


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without CUDA")
def test_refuses_clearly_without_cuda(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DEPTHSTUDY_RESULTS", str(tmp_path))
    assert gpu_check.main([]) == gpu_check.EXIT_NO_CUDA  # what `make gpu-check` runs
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and "no CUDA device" in lines[0] and out.out == ""
    with pytest.raises(RuntimeError, match="no CUDA device"):
        gpu_check.run(out_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_compare_curves():
    same = gpu_check.compare_curves([2.0, 1.5, 1.0], [2.02, 1.6, 1.05], tail=2)
    assert same["agree"] and same["first_window_rel_diff"] == pytest.approx(0.01)
    assert same["tail_mean_rel_diff"] == pytest.approx((1.325 - 1.25) / 1.25)
    assert not gpu_check.compare_curves([2.0, 1.0], [2.5, 1.0])["agree"]
    assert not gpu_check.compare_curves([2.0, 1.0], [2.0, 2.0])["agree"]
    with pytest.raises(ValueError, match="same non-zero length"):
        gpu_check.compare_curves([1.0], [1.0, 2.0])


def test_training_check_runs_on_cpu():
    """The training part at smoke sizes on the CPU, channels_last standing in for the fast path."""
    prof = get_profile("smoke", device="cpu")
    report = gpu_check.training_check(prof, steps=2, fast={"amp": False, "channels_last": True, "compile": False})
    assert report["steps"] == 2 and report["size"] == "48x64"
    assert len(report["eager"]["total"]) == len(report["fast"]["total"]) >= 1
    # same weights, same batches, float32 both: the curves agree to rounding
    assert report["first_window_rel_diff"] < 1e-4 and report["agree"]


def test_training_check_reports_a_failing_path(monkeypatch):
    def broken(profile, train_set, seed, steps, path):
        if path["compile"]:
            raise RuntimeError("no compiler")
        return {"path": path, "total": [1.0], "wall_s": 0.0}

    monkeypatch.setattr(gpu_check, "_loss_curve", broken)
    report = gpu_check.training_check(get_profile("smoke", device="cpu"), steps=2)
    assert report["agree"] is False and report["fast"]["error"] == "RuntimeError: no compiler"
    assert "FAILED; fast: RuntimeError: no compiler" in gpu_check._training_line(report)
