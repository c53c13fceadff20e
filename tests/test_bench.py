"""Tests of depthstudy.bench: report structure, pairing of eager/fast, the timing policy, isolation.

No timing assertions: speeds are only checked to be positive numbers; the timing policy is tested
against a fake clock.
"""

import json

import pytest
import torch

from depthstudy import bench

CHEAP = ["synth", "loader", "train_cliffnet", "infer_cliffnet_b1"]


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEPTHSTUDY_CACHE", str(tmp / "cache"))
        report = bench.run(quick=True, only=CHEAP, device="cpu", out_dir=tmp / "out", threads=1)
    return report


@pytest.mark.slow
def test_quick_run_writes_json_with_provenance_and_figures(quick_report):
    saved = json.loads(open(quick_report["path"]).read())
    assert quick_report["path"].endswith("cpu-1threads-quick.json")
    assert sorted(saved["results"]) == sorted(CHEAP) and list(quick_report["results"]) == CHEAP
    for key in ("schema", "device", "sizes", "variants", "timing", "host", "git", "versions", "started",
                "wall_s", "loadavg_1m_end"):
        assert key in saved, key
    assert saved["quick"] is True and saved["compile_enabled"] is False and saved["isolated"] is False
    assert saved["sizes"]["name"] == "smoke" and saved["sizes"]["height"] == 48
    assert saved["host"]["torch_threads"] == 1 and saved["host"]["cpu_count"] >= 1
    assert {"commit", "dirty"} <= set(saved["git"]) and saved["versions"]["torch"]
    assert saved["variants"]["fast"] == {"channels_last": True, "amp": True, "compile": False}  # quick: no compile
    for name in ("synth", "loader"):
        figures = saved["results"][name]
        assert figures["images_per_s"] > 0 and len(figures["images_per_s_repeats"]) == 3
    train = saved["results"]["train_cliffnet"]
    assert set(train["variants"]) == {"eager", "fast"} and train["batch"] == 4
    eager, fast = train["variants"]["eager"]["images_per_s"], train["variants"]["fast"]["images_per_s"]
    assert train["ratios"]["fast"] == pytest.approx(fast / eager)
    assert train["variants"]["eager"]["peak_memory_mb"] is None  # in-process CPU: no lifetime maximum


def test_run_restores_torch_threads(tmp_path):
    before = torch.get_num_threads()
    report = bench.run(quick=True, only=["synth"], device="cpu", out_dir=tmp_path,
                       threads=1 if before != 1 else 2)
    assert report["host"]["torch_threads"] == (1 if before != 1 else 2)
    assert torch.get_num_threads() == before


def test_format_report_renders_every_row(quick_report):
    text = bench.format_report(quick_report)
    rows = [line.split() for line in text.splitlines()[3:]]
    assert [(r[0], r[1]) for r in rows] == [("synth", "-"), ("loader", "-"), ("train_cliffnet", "eager"),
                                            ("train_cliffnet", "fast"), ("infer_cliffnet_b1", "eager"),
                                            ("infer_cliffnet_b1", "fast")]
    assert "1 torch threads" in text and quick_report["path"] in text


def test_unknown_benchmark_or_variant_lists_valid_names(tmp_path):
    with pytest.raises(ValueError, match="unknown benchmark.*'nope'.*synth, loader, train_cliffnet.*study_smoke"):
        bench.run(only=["synth", "nope"], out_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown variant.*'turbo'.*eager, fast, channels_last, bf16, compile"):
        bench.run(only=["synth"], variants=["turbo"], out_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown bench sizes 'huge'; valid: paper, smoke, cpu"):
        bench.get_sizes("huge")


def test_failing_fast_path_is_an_error_entry_not_a_crash(tmp_path, monkeypatch):
    real = bench._prepare_model

    def broken(model, variant, device):
        if variant.channels_last:
            raise RuntimeError("no compiler")
        return real(model, variant, device)

    monkeypatch.setattr(bench, "_prepare_model", broken)
    report = bench.run(quick=True, only=["infer_cliffnet_b1"], device="cpu", out_dir=tmp_path, threads=1)
    entry = report["results"]["infer_cliffnet_b1"]
    assert entry["variants"]["fast"] == {"error": "RuntimeError: no compiler"}
    assert entry["ratios"] == {"fast": None} and entry["variants"]["eager"]["images_per_s"] > 0
    last = bench.format_report(report).splitlines()[-1].split()
    assert last[:3] == ["infer_cliffnet_b1", "fast", "error"] and "no compiler" in " ".join(last)


def test_compare_variants_measures_eager_first_and_divides_by_it():
    order = []

    def fake(name):
        order.append(name)
        if name == "bf16":
            raise ValueError("slow")
        return {"images_per_s": {"eager": 10.0, "compile": 25.0, "channels_last": 5.0}[name],
                "first_call_s": {"eager": 1.0, "compile": 7.0, "channels_last": 1.0}[name]}

    out = bench.compare_variants(fake, ["compile", "bf16", "channels_last"])
    assert order == ["eager", "compile", "bf16", "channels_last"]
    assert out["ratios"] == {"compile": 2.5, "bf16": None, "channels_last": 0.5}
    # 6 s extra compile time / (0.1 - 0.04 s saved per image) = 100 images; slower variants never pay back
    assert out["payback_images"]["compile"] == pytest.approx(100.0)
    assert out["payback_images"]["bf16"] is None and out["payback_images"]["channels_last"] is None
    assert out["variants"]["bf16"] == {"error": "ValueError: slow"}


def test_measure_policy_against_a_fake_clock():
    now, calls = [0.0], []

    def step():  # every call takes 0.5 "seconds"
        calls.append(1)
        now[0] += 0.5

    timing = bench.Timing(warmup_s=1.0, warmup_iters=1, min_time_s=2.0, min_iters=1, repeats=3)
    out = bench.measure(step, images_per_call=2, timing=timing, clock=lambda: now[0])
    # first call 0.5 s; warm-up 2 calls (1.0 s); ceil(2.0 / 0.5) = 4 iterations per repeat of 2 s
    assert out["first_call_s"] == 0.5 and out["warmup_s"] == 1.0 and out["iters_per_repeat"] == 4
    assert out["images_per_s_repeats"] == [4.0, 4.0, 4.0] and out["images_per_s"] == 4.0
    assert out["spread"] == 0.0 and len(calls) == 1 + 2 + 3 * 4


def test_profile_sizes_follow_the_profile():
    from depthstudy.profiles import get_profile

    cpu, p = bench.get_sizes("cpu"), get_profile("cpu")
    assert (cpu.height, cpu.width, cpu.backbone_depth, cpu.batch_size) == (p.height, p.width, p.backbone_depth,
                                                                          p.batch_size)
    paper = bench.get_sizes()
    assert (paper.height, paper.width, paper.backbone_depth, paper.batch_size, paper.infer_batches) == (
        228, 304, 50, 8, (1, 32))


@pytest.mark.slow
def test_isolated_measurement_reports_its_own_peak_memory(tmp_path):
    report = bench.run(quick=True, only=["infer_cliffnet_b1"], variants=["eager"], device="cpu",
                       out_dir=tmp_path, threads=1, isolate=True)
    eager = report["results"]["infer_cliffnet_b1"]["variants"]["eager"]
    assert "error" not in eager, eager
    assert eager["peak_memory_mb"] >= eager["baseline_memory_mb"] > 0
    assert eager["torch_threads"] == 1 and eager["images_per_s"] > 0


def test_cpu_fast_path_defaults_follow_the_bench():
    from depthstudy.engine.config import resolve_channels_last, resolve_flag

    cpu, cuda, mps = torch.device("cpu"), torch.device("cuda"), torch.device("mps")
    assert resolve_channels_last("auto", cpu) and resolve_channels_last("auto", cuda)
    assert not resolve_channels_last("auto", mps) and not resolve_channels_last(False, cpu)
    assert not resolve_flag("auto", cpu) and resolve_flag("auto", cuda) and resolve_flag(True, cpu)
