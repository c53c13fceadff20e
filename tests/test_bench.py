"""Tests of depthstudy.bench: report structure, pairing of eager/fast, the timing policy, isolation.

No timing assertions: speeds are only checked to be positive numbers; the timing policy is tested
against a fake clock.
"""

import json
from dataclasses import asdict

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


def test_quick_run_reports_flops_and_the_gemm_ceiling(quick_report):
    gemm = quick_report["gemm"]
    assert (gemm["size"], gemm["threads"], gemm["dtype"], gemm["device"]) == (1024, 1, "float32", "cpu")
    assert gemm["gflop_per_s"] == sorted(gemm["gflop_per_s_repeats"])[1] > 0
    assert "aten.convolution_backward" in quick_report["flop_counter"]["ops"]
    per_image = {}
    for name in ("train_cliffnet", "infer_cliffnet_b1"):
        for variant, m in quick_report["results"][name]["variants"].items():
            assert m["flops_per_call"] == sum(m["flops_by_op"].values()) > 0
            assert m["flops_per_image"] == m["flops_per_call"] / m["batch"]
            assert m["achieved_gflop_per_s"] == pytest.approx(m["flops_per_image"] * m["images_per_s"] / 1e9)
            assert m["gemm_fraction"] == pytest.approx(m["achieved_gflop_per_s"] / gemm["gflop_per_s"])
            per_image[name, variant] = m["flops_per_image"]
        assert per_image[name, "fast"] == per_image[name, "eager"]  # bf16 and channels_last: same arithmetic
    assert "aten.convolution_backward" in quick_report["results"]["train_cliffnet"]["variants"]["eager"]["flops_by_op"]
    # backward = weight gradients (1x forward) + input gradients (1x, except the first conv): 2x < train/infer <= 3x
    assert 2 < per_image["train_cliffnet", "eager"] / per_image["infer_cliffnet_b1", "eager"] <= 3
    assert "gemm_fraction" not in quick_report["results"]["synth"]  # data figures have no FLOPs


def test_format_report_renders_every_row(quick_report):
    text = bench.format_report(quick_report)
    assert text.splitlines()[2].startswith("fp32 GEMM reference: 1024x1024 mm on cpu, 1 torch threads: ")
    assert text.splitlines()[3].split()[6:9] == ["GFLOP/s", "of", "GEMM"]
    rows = [line.split() for line in text.splitlines()[4:]]
    eager = quick_report["results"]["train_cliffnet"]["variants"]["eager"]
    assert rows[2][5:7] == [f"{eager['achieved_gflop_per_s']:.2f}", f"{100 * eager['gemm_fraction']:.1f}%"]
    assert [(r[0], r[1]) for r in rows] == [("synth", "-"), ("loader", "-"), ("train_cliffnet", "eager"),
                                            ("train_cliffnet", "fast"), ("infer_cliffnet_b1", "eager"),
                                            ("infer_cliffnet_b1", "fast")]
    assert "1 torch threads" in text and quick_report["path"] in text


def test_unknown_benchmark_or_variant_lists_valid_names(tmp_path):
    with pytest.raises(ValueError, match="unknown benchmark.*'nope'.*synth, loader, train_cliffnet.*study_smoke"):
        bench.run(only=["synth", "nope"], out_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown variant.*'turbo'.*eager, fast, channels_last, bf16, compile"):
        bench.run(only=["synth"], variants=["turbo"], out_dir=tmp_path)
    with pytest.raises(ValueError, match="gemm_size must be a positive integer .*; got 0"):
        bench.run(only=["synth"], gemm_size=0, out_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown bench sizes 'huge'; valid: paper, smoke, preview, cpu"):
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


def test_count_flops_equals_the_hand_formula():
    b, n_in, n_out = 3, 8, 4
    linear, x = torch.nn.Linear(n_in, n_out), torch.rand(b, n_in)
    assert bench.count_flops(lambda: linear(x)) == {"flops_per_call": 2 * b * n_in * n_out,
                                                     "flops_by_op": {"aten.addmm": 2 * b * n_in * n_out}}
    conv, image = torch.nn.Conv2d(3, 5, 3, padding=1), torch.rand(2, 3, 6, 7)
    forward = 2 * (2 * 5 * 6 * 7) * (3 * 3 * 3)  # 2 x output elements x multiply-adds per output (bias not counted)
    with torch.no_grad():
        assert bench.count_flops(lambda: conv(image))["flops_per_call"] == forward
    # training: weight gradient only (the image needs no gradient) -> 2x; with the input gradient -> 3x
    assert bench.count_flops(lambda: conv(image).sum().backward())["flops_by_op"] == {
        "aten.convolution": forward, "aten.convolution_backward": forward}
    leaf = image.clone().requires_grad_()
    assert bench.count_flops(lambda: conv(leaf).sum().backward())["flops_per_call"] == 3 * forward
    assert bench.count_flops(lambda: torch.relu(image) * 2 + image)["flops_per_call"] == 0  # elementwise


def test_ceiling_figures_normalise_by_the_gemm_rate():
    gemm = {"gflop_per_s": 50.0, "threads": 2, "device": "cpu"}
    figures = {"images_per_s": 10.0, "flops_per_call": 8e9, "batch": 4, "torch_threads": 2}
    # 8 GFLOP per batch of 4 = 2 GFLOP per image; 10 img/s -> 20 GFLOP/s = 40% of 50 GFLOP/s
    assert bench.ceiling_figures(figures, gemm) == {"flops_per_image": 2e9, "achieved_gflop_per_s": 20.0,
                                                    "gemm_fraction": 0.4}
    assert bench.ceiling_figures({**figures, "torch_threads": 1}, gemm)["gemm_fraction"] is None  # other threads
    assert bench.ceiling_figures(figures, None) == {"flops_per_image": 2e9, "achieved_gflop_per_s": 20.0,
                                                    "gemm_fraction": None}
    cuda = {**gemm, "device": "cuda", "threads": 16}
    assert bench.ceiling_figures(figures, cuda)["gemm_fraction"] == 0.4  # CPU threads do not matter on CUDA
    assert bench.ceiling_figures({"error": "RuntimeError: x"}, gemm) == {}


def test_gemm_rate_counts_two_flops_per_multiply_add(monkeypatch):
    timing = bench.Timing(warmup_s=0.0, warmup_iters=1, min_time_s=0.01, min_iters=1, repeats=3)
    out = bench.gemm_rate(torch.device("cpu"), 64, timing)
    assert (out["size"], out["dtype"], out["threads"]) == (64, "float32", torch.get_num_threads())
    assert out["gflop_per_s"] == sorted(out["gflop_per_s_repeats"])[1] > 0
    products = []

    def fake_measure(step, images_per_call, timing, sync):  # 100 products/s, whatever the machine does
        step()
        products.append(images_per_call)
        return {"images_per_s": 100.0, "images_per_s_repeats": [100.0], "spread": 0.0}

    monkeypatch.setattr(bench, "measure", fake_measure)
    out = bench.gemm_rate(torch.device("cpu"), 500, timing)
    assert products == [1] and out["gflop_per_s"] == pytest.approx(100 * 2 * 500**3 / 1e9)  # 25 GFLOP/s


def test_compiled_variant_counts_flops_on_its_uncompiled_twin(monkeypatch):
    compiled = []

    def fake_compile(model):  # a compiled module that FlopCounterMode must never run
        compiled.append(model)

        def refuse(*args):
            from torch.utils._python_dispatch import _get_current_dispatch_mode_stack
            assert not _get_current_dispatch_mode_stack(), "FLOPs counted through the compiled model"
            return model(*args)
        return refuse

    monkeypatch.setattr(torch, "compile", fake_compile)
    sizes = asdict(bench.get_sizes(quick=True))
    spec = {"kind": "infer", "model": "cliffnet", "batch": 1, "sizes": sizes, "device": "cpu", "threads": 1,
            "timing": asdict(bench.QUICK_TIMING)}
    eager = bench.measure_model({**spec, "variant": asdict(bench.VARIANTS["eager"])})
    fake = bench.measure_model({**spec, "variant": asdict(bench.VARIANTS["compile"])})
    assert len(compiled) == 1 and fake["flops_per_call"] == eager["flops_per_call"] > 0


def test_cli_bench_parser_has_every_option_of_the_bench():
    import argparse

    from depthstudy.cli import build_parser

    own = argparse.ArgumentParser()
    bench.add_arguments(own)
    cli = build_parser().parse_args(["bench", "--quick", "--gemm-size", "256"])
    assert set(vars(own.parse_args([]))) <= set(vars(cli)) and cli.gemm_size == 256
