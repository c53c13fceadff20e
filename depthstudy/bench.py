"""Speed benchmarks (``depthstudy bench``): data generation, loading, training and inference.

Every model figure is measured for several *variants* of the execution path in the same run:
``eager`` (float32, contiguous memory, no compile) is the baseline and ``fast`` is the engine's
fast path (channels_last + bf16 autocast + ``torch.compile``); ``channels_last``, ``bf16`` and
``compile`` switch on one ingredient each, so the report shows which one helps. Each variant's
``x eager`` ratio is its images/s over eager's. A variant that raises is reported as an error
entry, not a crash. The report goes to ``results/bench/<device>[-<sizes>][-quick].json`` with its
provenance and is printed as a table.

Sizes (:data:`SIZES`): ``paper`` (default) is the issue's setting, CLIFFNet's: 228x304, ResNet-50,
FPN 256, training batch 8, inference batch 1 and 32, 4 loader workers. Any profile name
(``smoke``, ``cpu``, ``gpu``, ``nyu``) takes height, width, backbone, FPN width, batch size and
workers from that profile instead; ``quick`` uses the ``smoke`` profile's sizes, runs short
timings, leaves compile out and measures in-process, so it finishes in seconds.

Measurement (:func:`measure`), decided for this benchmark:

- The first call is timed on its own and reported as ``first_call_s`` (for the compiled variant
  this is the compile time); it never enters the throughput.
- Warm-up: further calls until ``warmup_s`` have passed (at least ``warmup_iters``); their mean
  sets the number of iterations per repeat, ``max(min_iters, ceil(min_time_s / mean))``, so one
  repeat lasts about ``min_time_s`` without a device sync inside it.
- ``repeats`` timed repeats; the figure is the **median** repeat's images/s, and ``spread`` is
  (max - min) / median of the repeats, to judge the noise. Full runs: 5 repeats of >= 2 s.
- Load: the 1-minute load average is recorded before every measurement and for the whole run,
  with ``os.cpu_count()`` and torch's intra-op threads (``--threads`` sets them). A load average
  above the core count means the figures are contaminated by other processes.

Peak memory, decided: on CUDA, ``torch.cuda.max_memory_allocated`` after a reset at the start of
the measurement. On the CPU, ``ru_maxrss`` is a process-lifetime maximum, so every model
measurement runs in a **fresh subprocess** (``python -m depthstudy.bench --child``): its peak RSS
(``peak_memory_mb``) belongs to that one benchmark; ``baseline_memory_mb`` is the same process's
RSS after importing torch and before building the model, so the difference is what the model,
optimiser, activations and compiled code took. Quick runs measure in-process and leave CPU
memory out (None) rather than print a lifetime maximum.

Data figures: ``synth`` renders fresh SynthRooms scenes (6 views per call, no cache) at the bench
size; ``loader`` iterates the engine's own ``batch_stream`` (the training DataLoader) over a
cached SynthRooms set at the bench size with the size set's worker count (the cache is built
before timing; its build time is reported as ``dataset_s``). ``study_smoke`` / ``study_cpu``
(never in the default set) time ``depthstudy run --profile smoke|cpu`` end to end in a
subprocess with a fresh results and cache folder (cold start, nothing of the user's
overwritten); the goals are 10 and 30 minutes on 2 cores.

Ceiling (Decision S10): every model figure is also given as achieved FLOP/s and as a fraction of
this machine's fp32 GEMM rate measured at the start of the same run. :func:`count_flops` counts one
call of the very step that is timed (same model, input and batch; a compiled variant's uncompiled
twin) with ``torch.utils.flop_counter.FlopCounterMode``: matmul, convolution and attention FLOPs
(forward for inference, forward + backward for training), not elementwise ones, so achieved FLOP/s
is a lower bound. :func:`gemm_rate` times ``torch.mm`` of two float32 square matrices of side
:data:`GEMM_SIZES` (1024 on the CPU, 8192 on CUDA; ``--gemm-size``) in the parent process at the
run's torch threads (the children run at the same count). ``gemm_fraction`` = achieved / GEMM
GFLOP/s: near 1 the step already runs at the machine's matmul rate and only less arithmetic (smaller
images, fewer steps) makes it cheaper; far below 1 the time goes to memory-bound and elementwise
work, overhead or small kernels, where faster execution paths can still help. A bf16 variant (or
cuDNN's default TF32 convolutions on CUDA) can exceed 1, since the reference is strict fp32.

Training step: the engine's own (:func:`depthstudy.engine.train_step`, the step of
:func:`depthstudy.engine.train`): Adam with the engine's parameter groups, forward under autocast,
outputs cast to float32, L1 depth loss (plus cross-entropy on the synergy network's ``semantic``
logits), backward, step, on one fixed random batch. Inference: ``eval()`` and
``torch.no_grad()`` (as :func:`depthstudy.engine.predict`), random input.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch.utils.flop_counter import FlopCounterMode, flop_registry

from . import io, paths
from .engine.config import resolve_device

SCHEMA = "depthstudy-bench/3"
MODEL_BENCHMARKS = ("train_cliffnet", "train_synergy", "infer_cliffnet_b1", "infer_cliffnet_b32")
DEFAULT_BENCHMARKS = ("synth", "loader", *MODEL_BENCHMARKS)
STUDY_GOALS_S = {"study_smoke": 600.0, "study_cpu": 1800.0}
BENCHMARKS = (*DEFAULT_BENCHMARKS, *STUDY_GOALS_S)
CHILD_TIMEOUT_S = 3600
GEMM_SIZES = {"cpu": 1024, "cuda": 8192}  # square fp32 GEMM side per device type (Decision S10)
FLOP_COUNTED_OPS = tuple(sorted(str(op) for op in flop_registry))  # what FlopCounterMode counts


@dataclass(frozen=True)
class Variant:
    """One execution path: channels_last memory format, bf16 autocast, torch.compile."""

    channels_last: bool
    amp: bool
    compile: bool


VARIANTS = {
    "eager": Variant(False, False, False),
    "fast": Variant(True, True, True),
    "channels_last": Variant(True, False, False),
    "bf16": Variant(False, True, False),
    "compile": Variant(False, False, True),
}
DEFAULT_VARIANTS = ("eager", "fast")


@dataclass(frozen=True)
class Sizes:
    """Benchmark sizes: input [batch,3,height,width], ResNet depth/width, FPN channels."""

    name: str
    height: int
    width: int
    backbone_depth: int
    backbone_width: float
    fpn_channels: int
    batch_size: int
    num_workers: int
    infer_batches: tuple[int, int] = (1, 32)


PAPER_SIZES = Sizes("paper", 228, 304, 50, 1.0, 256, 8, 4)


@dataclass(frozen=True)
class Timing:
    """Time budget of :func:`measure` (seconds and iteration counts; see the module doc)."""

    warmup_s: float
    warmup_iters: int
    min_time_s: float
    min_iters: int
    repeats: int


FULL_TIMING = Timing(warmup_s=2.0, warmup_iters=2, min_time_s=2.0, min_iters=2, repeats=5)
QUICK_TIMING = Timing(warmup_s=0.0, warmup_iters=1, min_time_s=0.1, min_iters=1, repeats=3)


def get_sizes(name: str | None = None, quick: bool = False) -> Sizes:
    """``paper`` (default), or the sizes of profile ``name``; ``quick`` -> the smoke profile."""
    if quick:
        name = "smoke"
    if name in (None, "paper"):
        return PAPER_SIZES
    from .profiles import get_profile, profile_names

    if name not in profile_names():
        raise ValueError(f"unknown bench sizes {name!r}; valid: paper, {', '.join(profile_names())}")
    p = get_profile(name)
    return Sizes(name, p.height, p.width, p.backbone_depth, p.backbone_width, p.fpn_channels,
                 p.batch_size, p.num_workers)


def device_name(device: torch.device) -> str:
    """A file-name-safe description: ``cpu-2threads`` or e.g. ``nvidia-h100-80gb-hbm3``."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"cpu-{torch.get_num_threads()}threads"
    return "".join(c if c.isalnum() or c in "-." else "-" for c in name.lower()).strip("-")


def host_info(device: torch.device) -> dict[str, Any]:
    """CPU/GPU facts needed to judge the figures: cores, torch threads, load, bf16 support."""
    flags = _cpu_flags()
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(), "loadavg_1m": _load(),
        "machine": platform.machine(), "processor": _cpu_model() or platform.processor(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_bf16_native": bool(flags & {"avx512_bf16", "amx_bf16"}),
        "cpu_amx": "amx_tile" in flags,
    }
    if device.type == "cuda":
        info["cuda_device"] = torch.cuda.get_device_name(device)
    return info


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return set(line.partition(":")[2].split())


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    line = next((ln for ln in text.splitlines() if ln.startswith("model name")), "")
    return line.partition(":")[2].strip()


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(step: Callable[[], Any], images_per_call: int, timing: Timing,
            sync: Callable[[], None] = lambda: None, clock: Callable[[], float] = time.perf_counter) -> dict:
    """Throughput of ``step`` (one call = ``images_per_call`` images); see the module doc.

    Returns ``images_per_s`` (median repeat), ``images_per_s_repeats``, ``spread`` (max - min over
    median), ``iters_per_repeat``, ``first_call_s`` (compile/first-call time) and ``warmup_s``.
    """
    start = clock()
    step()
    sync()
    first = clock() - start
    start, calls = clock(), 0
    while calls < timing.warmup_iters or clock() - start < timing.warmup_s:
        step()
        sync()
        calls += 1
    warm = clock() - start
    iters = max(timing.min_iters, math.ceil(timing.min_time_s / max(warm / calls, 1e-9)))
    rates = []
    for _ in range(timing.repeats):
        start = clock()
        for _ in range(iters):
            step()
        sync()
        rates.append(images_per_call * iters / max(clock() - start, 1e-12))
    median = statistics.median(rates)
    return {"images_per_s": median, "images_per_s_repeats": rates,
            "spread": (max(rates) - min(rates)) / median, "iters_per_repeat": iters,
            "first_call_s": first, "warmup_s": warm}


# --- model measurements (run in a fresh child process unless quick) -------------------------------

def _build_model(name: str, sizes: Sizes) -> torch.nn.Module:
    """Model ``name`` built by its own ``from_profile`` at the bench ``sizes`` (random init)."""
    from . import models
    from .profiles import get_profile

    profile = get_profile("smoke").replace(backbone_depth=sizes.backbone_depth, backbone_width=sizes.backbone_width,
                                           fpn_channels=sizes.fpn_channels, height=sizes.height,
                                           width=sizes.width, pretrained="")
    torch.manual_seed(0)
    return models.from_profile(name, profile)


def _prepare_model(model: torch.nn.Module, variant: Variant, device: torch.device) -> torch.nn.Module:
    """Move to ``device``; channels_last and ``torch.compile`` as ``variant`` says."""
    model = model.to(device)
    if variant.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return torch.compile(model) if variant.compile else model


def _input(batch: int, sizes: Sizes, variant: Variant, device: torch.device) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    image = torch.rand(batch, 3, sizes.height, sizes.width, generator=gen).to(device)
    return image.contiguous(memory_format=torch.channels_last) if variant.channels_last else image


def _train_step(model_name: str, sizes: Sizes, variant: Variant, device: torch.device) -> Callable[[], None]:
    """The engine's own training step (:func:`depthstudy.engine.train_step`) on one fixed batch."""
    from . import losses
    from .engine import TrainConfig, train_step

    model = _build_model(model_name, sizes)
    loss = losses.build("combo", terms={"l1": 1.0, "ce": 1.0}) if model_name == "synergy" else losses.build("l1")
    config = TrainConfig(steps=1, batch_size=sizes.batch_size, lr=1e-4, weight_decay=1e-4, device=str(device),
                         amp=variant.amp, channels_last=variant.channels_last, compile=variant.compile,
                         progress=False)
    step = train_step(model, loss, config)
    b, h, w = sizes.batch_size, sizes.height, sizes.width
    gen = torch.Generator().manual_seed(1)
    image = torch.rand(b, 3, h, w, generator=gen)
    gen = torch.Generator().manual_seed(2)
    batch = {"image": image, "depth": 1 + 9 * torch.rand(b, 1, h, w, generator=gen),
             "semantic": torch.randint(0, 40, (b, h, w), generator=gen)}
    return lambda: step(batch)


def _infer_step(model_name: str, sizes: Sizes, variant: Variant, device: torch.device,
                batch: int) -> Callable[[], None]:
    net = _prepare_model(_build_model(model_name, sizes).eval(), variant, device)
    image = _input(batch, sizes, variant, device)

    def step() -> None:
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=variant.amp):
            net(image)

    return step


def measure_model(spec: dict) -> dict:
    """One model measurement in this process. ``spec``: kind ("train" | "infer"), model, sizes
    (:class:`Sizes` fields), variant (:class:`Variant` fields), batch, device, timing, threads.

    Runs under the engine's ``reproducible_kernels`` (cuDNN autotuning on CUDA, deterministic
    algorithms on the CPU), as training does. Returns :func:`measure`'s dict plus
    ``peak_memory_mb``/``baseline_memory_mb`` (see module doc; None on the CPU unless
    ``spec["isolated"]``), ``loadavg_1m`` and ``torch_threads``.
    """
    from .engine.seeding import reproducible_kernels

    device = torch.device(spec["device"])
    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    sizes = Sizes(**{**spec["sizes"], "infer_batches": tuple(spec["sizes"]["infer_batches"])})
    variant, timing = Variant(**spec["variant"]), Timing(**spec["timing"])
    baseline = _rss_mb() if device.type == "cpu" else 0.0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    load = _load()
    step, batch = _model_step(spec, sizes, variant, device)
    with reproducible_kernels(device):  # the engine's kernel settings: cuDNN autotuning on CUDA
        result = measure(step, batch, timing, sync=lambda: _sync(device))
    if device.type == "cuda":
        peak, baseline = torch.cuda.max_memory_allocated(device) / 2**20, 0.0
    elif spec.get("isolated"):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB -> MiB
    else:
        peak, baseline = None, None
    # after the peak is read: a compiled variant's FLOPs are counted on its uncompiled twin (Decision S10)
    count_step = _model_step(spec, sizes, replace(variant, compile=False), device)[0] if variant.compile else step
    with reproducible_kernels(device):
        flops = count_flops(count_step)
    return {**result, **flops, "peak_memory_mb": peak, "baseline_memory_mb": baseline, "loadavg_1m": load,
            "torch_threads": torch.get_num_threads(), "batch": batch, "size": [sizes.height, sizes.width]}


def _model_step(spec: dict, sizes: Sizes, variant: Variant, device: torch.device) -> tuple[Callable[[], None], int]:
    """The timed step of ``spec`` (a training step or an inference call) and its images per call."""
    if spec["kind"] == "train":
        return _train_step(spec["model"], sizes, variant, device), sizes.batch_size
    batch = int(spec["batch"])
    return _infer_step(spec["model"], sizes, variant, device, batch), batch


def count_flops(step: Callable[[], Any]) -> dict:
    """FLOPs of one call of ``step``, counted by ``torch.utils.flop_counter.FlopCounterMode``.

    The counter counts the ops of its registry (:data:`FLOP_COUNTED_OPS`: matmuls ``mm``/``addmm``/
    ``bmm``/``baddbmm``, convolutions and their backward, attention kernels) as 2 FLOPs per
    multiply-add; elementwise ops, normalisation, pooling, interpolation, losses and the optimiser
    update are not counted, so the figure is a lower bound of the arithmetic done. ``step`` runs
    once, whatever it does: a forward under ``no_grad`` for inference, forward + backward (+ the
    uncounted optimiser step) for training. Returns ``flops_per_call`` (int) and ``flops_by_op``
    (op name -> FLOPs of that call).
    """
    with FlopCounterMode(display=False) as counter:
        step()
    by_op = {str(op): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}
    return {"flops_per_call": int(counter.get_total_flops()), "flops_by_op": by_op}


def ceiling_figures(figures: dict, gemm: dict | None) -> dict:
    """Achieved FLOP/s of a model figure and its fraction of the run's fp32 GEMM rate.

    ``figures``: :func:`measure_model`'s dict (``images_per_s``, ``flops_per_call``, ``batch``,
    ``torch_threads``); ``gemm``: :func:`gemm_rate`'s dict or None. Returns ``flops_per_image``,
    ``achieved_gflop_per_s`` = flops_per_call / batch * images_per_s / 1e9 and ``gemm_fraction`` =
    achieved / the GEMM's GFLOP/s; the fraction is None without a GEMM figure or when a CPU figure
    ran at another thread count than the GEMM. An error entry (no ``images_per_s``) gives ``{}``.
    """
    if "images_per_s" not in figures or figures.get("flops_per_call") is None:
        return {}
    per_image = figures["flops_per_call"] / figures["batch"]
    achieved = per_image * figures["images_per_s"] / 1e9
    comparable = gemm is not None and (gemm["device"] != "cpu" or gemm["threads"] == figures.get("torch_threads"))
    return {"flops_per_image": per_image, "achieved_gflop_per_s": achieved,
            "gemm_fraction": achieved / gemm["gflop_per_s"] if comparable else None}


def gemm_rate(device: torch.device, size: int, timing: Timing) -> dict:
    """This machine's fp32 GEMM rate: ``torch.mm`` of two random float32 [size,size] matrices.

    Runs in this process at torch's current intra-op threads, timed by :func:`measure` (median of
    the repeats); one product is 2 * size**3 FLOPs. Returns ``size``, ``dtype``, ``threads``,
    ``device``, ``gflop_per_s`` (median), ``gflop_per_s_repeats``, ``spread``, ``loadavg_1m`` and
    on CUDA the TF32 switches (the reference is strict fp32 unless ``cuda_matmul_tf32``).
    """
    gen = torch.Generator().manual_seed(3)
    a, b = (torch.rand(size, size, generator=gen).to(device) for _ in range(2))
    out = torch.empty(size, size, device=device)
    load = _load()
    result = measure(lambda: torch.mm(a, b, out=out), 1, timing, sync=lambda: _sync(device))
    giga = 2 * size**3 / 1e9
    entry = {"size": size, "dtype": "float32", "threads": torch.get_num_threads(), "device": device.type,
             "gflop_per_s": result["images_per_s"] * giga,
             "gflop_per_s_repeats": [r * giga for r in result["images_per_s_repeats"]],
             "spread": result["spread"], "loadavg_1m": load}
    if device.type == "cuda":
        entry.update(cuda_matmul_tf32=torch.backends.cuda.matmul.allow_tf32,
                     cudnn_tf32=torch.backends.cudnn.allow_tf32)
    return entry


def _rss_mb() -> float:
    """Current resident set size of this process in MiB (Linux /proc; 0 where unavailable)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _error(exc: BaseException) -> dict:
    return {"error": f"{type(exc).__name__}: {exc}"[:500]}


def _measure_in_child(spec: dict) -> dict:
    """Run :func:`measure_model` in ``python -m depthstudy.bench --child``; errors become entries."""
    with tempfile.TemporaryDirectory(prefix="depthstudy-bench-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps({**spec, "isolated": True}))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        if spec.get("threads"):
            env["OMP_NUM_THREADS"] = str(spec["threads"])
        try:
            done = subprocess.run([sys.executable, "-m", "depthstudy.bench", "--child", str(spec_path),
                                   str(out_path)], capture_output=True, text=True, env=env,
                                  timeout=CHILD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {CHILD_TIMEOUT_S} s"}
        if out_path.is_file():
            return json.loads(out_path.read_text())
        return {"error": f"child exited with code {done.returncode}: {done.stderr[-500:]}"}


def _child_main(spec_path: str, out_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    try:
        result = measure_model(spec)
    except Exception as exc:  # reported as the variant's entry by the parent
        result = _error(exc)
    Path(out_path).write_text(json.dumps(result))
    return 0


def compare_variants(measure_variant: Callable[[str], dict], variants: Sequence[str]) -> dict:
    """Measure every variant (``eager`` first); a variant that raises becomes ``{"error": ...}``.

    Returns ``{"variants": {name: figures | {"error"}}, "ratios": {name: images/s over eager's
    or None}, "payback_images": {name: images or None}}`` for the non-eager variants, where
    ``payback_images`` is the number of images after which a faster variant has earned back its
    extra first-call (compile) time: ``extra_first_call_s / (1/eager_rate - 1/variant_rate)``;
    None when it is not faster.
    """
    names = ["eager", *[v for v in variants if v != "eager"]]
    results: dict[str, dict] = {}
    for name in names:
        try:
            results[name] = measure_variant(name)
        except Exception as exc:  # e.g. torch.compile without a working compiler: report, don't hide
            results[name] = _error(exc)
    eager = results["eager"]
    others = {name: r for name, r in results.items() if name != "eager"}
    return {"variants": results,
            "ratios": {name: _ratio(eager, r) for name, r in others.items()},
            "payback_images": {name: _payback(eager, r) for name, r in others.items()}}


def _ratio(eager: dict, other: dict) -> float | None:
    if "images_per_s" not in eager or "images_per_s" not in other:
        return None
    return other["images_per_s"] / eager["images_per_s"]


def _payback(eager: dict, other: dict) -> float | None:
    ratio = _ratio(eager, other)
    if ratio is None or ratio <= 1:
        return None
    extra = max(other["first_call_s"] - eager["first_call_s"], 0.0)
    return extra / (1 / eager["images_per_s"] - 1 / other["images_per_s"])


# --- data and study measurements (in-process) --------------------------------------------------

def bench_synth(sizes: Sizes, timing: Timing) -> dict:
    """SynthRooms rendering images/s at the bench size (6 fresh views per call, no cache)."""
    from .data.synthrooms import render_views

    scene = iter(range(10**9))
    result = measure(lambda: render_views(0, next(scene), range(6), sizes.height, sizes.width), 6, timing)
    return {**result, "size": [sizes.height, sizes.width], "loadavg_1m": _load()}


def bench_loader(sizes: Sizes, timing: Timing, device: torch.device) -> dict:
    """Images/s of the engine's training ``batch_stream`` over a cached SynthRooms set."""
    from .data.synthrooms import SynthRooms
    from .engine.sampling import batch_stream

    start = time.perf_counter()
    dataset = SynthRooms("train", height=sizes.height, width=sizes.width, train_scenes=8, test_scenes=1,
                         views_per_scene=8)
    dataset_s = time.perf_counter() - start
    stream = batch_stream(dataset, sizes.batch_size, seed=0, stream=0, rank=0, world_size=1, start=0,
                          num_workers=sizes.num_workers, pin_memory=device.type == "cuda")
    result = measure(lambda: next(stream), sizes.batch_size, timing)
    return {**result, "dataset_s": dataset_s, "num_workers": sizes.num_workers, "batch": sizes.batch_size,
            "size": [sizes.height, sizes.width], "loadavg_1m": _load()}


def bench_study(profile: str, threads: int | None = None) -> dict:
    """Wall time of ``depthstudy run --profile <profile>`` in a subprocess, cold caches;
    ``threads`` sets ``OMP_NUM_THREADS`` (torch's intra-op threads) of the study's processes."""
    with tempfile.TemporaryDirectory(prefix="depthstudy-bench-study-") as tmp:
        env = {**os.environ, "DEPTHSTUDY_RESULTS": f"{tmp}/results", "DEPTHSTUDY_CACHE": f"{tmp}/cache",
               "TQDM_DISABLE": "1", **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
        load, start = _load(), time.perf_counter()
        try:
            done = subprocess.run([sys.executable, "-m", "depthstudy.cli", "run", "--profile", profile],
                                  capture_output=True, text=True, env=env, timeout=3 * 3600,
                                  cwd=str(Path(__file__).resolve().parent.parent))
        except subprocess.TimeoutExpired:
            return {"error": "timed out after 3 h"}
        wall = time.perf_counter() - start
    goal = STUDY_GOALS_S[f"study_{profile}"]
    entry = {"wall_s": wall, "goal_s": goal, "meets_goal": done.returncode == 0 and wall <= goal,
             "returncode": done.returncode, "loadavg_1m": load}
    if done.returncode:
        # the runner's summary table (stdout) names the failed notebooks; stderr is kernel chatter
        entry["error"] = f"exit code {done.returncode}: {(done.stdout.strip() or done.stderr)[-800:]}"
    return entry


# --- the run ----------------------------------------------------------------------------------

def _model_specs(sizes: Sizes) -> dict[str, dict]:
    b1, bn = sizes.infer_batches
    return {
        "train_cliffnet": {"kind": "train", "model": "cliffnet", "batch": sizes.batch_size},
        "train_synergy": {"kind": "train", "model": "synergy", "batch": sizes.batch_size},
        "infer_cliffnet_b1": {"kind": "infer", "model": "cliffnet", "batch": b1},
        "infer_cliffnet_b32": {"kind": "infer", "model": "cliffnet", "batch": bn},
    }


def _effective(name: str, compile_ok: bool) -> Variant:
    """Variant ``name`` with compile removed when the run disallows it."""
    return VARIANTS[name] if compile_ok else replace(VARIANTS[name], compile=False)


def _model_bench(base: dict, variants: Sequence[str], compile_ok: bool, isolate: bool,
                 deadline: float | None = None, gemm: dict | None = None) -> dict:
    def one(name: str) -> dict:
        if deadline is not None and time.perf_counter() > deadline:
            raise TimeoutError("skipped: the run's time budget was spent before this variant started")
        spec = {**base, "variant": asdict(_effective(name, compile_ok))}
        return _measure_in_child(spec) if isolate else measure_model(spec)

    entry = compare_variants(lambda name: _logged(base["name"], name, one), variants)
    for figures in entry["variants"].values():
        figures.update(ceiling_figures(figures, gemm))
    entry.update(kind=base["kind"], model=base["model"], batch=base["batch"])
    return entry


def _logged(label: str, variant: str, fn: Callable[[str], dict]) -> dict:
    """``fn(variant)`` with a progress line on stderr (benchmarks can take minutes each)."""
    print(f"bench: {label} {variant} ...", file=sys.stderr, flush=True)
    out = fn(variant)
    figure = (f"{out['images_per_s']:.2f} img/s" if "images_per_s" in out
              else f"{out['gflop_per_s']:.1f} GFLOP/s" if "gflop_per_s" in out
              else f"{out['wall_s']:.0f} s" if "wall_s" in out else out.get("error", "")[:120])
    print(f"bench: {label} {variant}: {figure}", file=sys.stderr, flush=True)
    return out


def _check_args(only: Sequence[str] | None, variants: Sequence[str] | None, gemm_size: int | None) -> None:
    unknown = sorted(set(only or ()) - set(BENCHMARKS))
    if unknown:
        raise ValueError(f"unknown benchmark(s) {unknown}; valid: {', '.join(BENCHMARKS)}")
    bad = sorted(set(variants or ()) - set(VARIANTS))
    if bad:
        raise ValueError(f"unknown variant(s) {bad}; valid: {', '.join(VARIANTS)}")
    if gemm_size is not None and (not isinstance(gemm_size, int) or gemm_size < 1):
        raise ValueError(f"gemm_size must be a positive integer (side of the square fp32 GEMM); got {gemm_size!r}")


def run(only: Sequence[str] | None = None, device: str = "auto", quick: bool = False, out_dir=None, *,
        sizes: str | None = None, variants: Sequence[str] | None = None, compile: bool | None = None,
        threads: int | None = None, isolate: bool | None = None, timing: Timing | None = None,
        deadline: float | None = None, gemm_size: int | None = None) -> dict:
    """Run the benchmarks, write the JSON report and return it (with its ``path``).

    Args:
        only: benchmark names (default :data:`DEFAULT_BENCHMARKS`; ``study_*`` only when named).
        device: ``auto`` | ``cpu`` | ``cuda`` | ``cuda:N``.
        quick: smoke sizes, short timings, no compile, in-process: a check in seconds.
        out_dir: folder of the report (default ``results/bench``).
        sizes: ``paper`` (default) or a profile name (see :func:`get_sizes`).
        variants: names of :data:`VARIANTS` (default eager and fast; eager is always measured).
        compile: allow ``torch.compile`` in the variants (default: not in quick mode).
        threads: torch intra-op threads for the whole run (default: torch's own choice).
        isolate: fresh subprocess per model measurement (default: not in quick mode).
        timing: the time budget of each measurement (default: full, or quick in quick mode).
        deadline: a ``time.perf_counter()`` value after which no further model variant starts;
            those not started are reported as ``{"error": "skipped: ..."}`` (used by the GPU check).
        gemm_size: side of the fp32 GEMM reference (default :data:`GEMM_SIZES` of the device type);
            measured only when a model benchmark runs.
    """
    _check_args(only, variants, gemm_size)
    bench_sizes = get_sizes(sizes, quick)
    dev = resolve_device(device)
    gemm_size = GEMM_SIZES.get(dev.type, GEMM_SIZES["cuda"]) if gemm_size is None else gemm_size
    timing = timing or (QUICK_TIMING if quick else FULL_TIMING)
    compile_ok = (not quick) if compile is None else compile
    isolate = (not quick) if isolate is None else isolate
    variants = tuple(variants or DEFAULT_VARIANTS)
    names = [n for n in BENCHMARKS if (n in only if only else n in DEFAULT_BENCHMARKS)]
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        report = _run(names, dev, bench_sizes, timing, variants, compile_ok, isolate, quick, threads, deadline,
                      gemm_size)
    finally:
        torch.set_num_threads(old_threads)
    suffix = ("" if bench_sizes.name in ("paper", "smoke") else f"-{bench_sizes.name}") + ("-quick" if quick else "")
    target = Path(out_dir or paths.results_dir() / "bench") / f"{report['device']}{suffix}.json"
    io.write_json(target, report)
    report["path"] = str(target)
    return report


def _run(names: list[str], dev: torch.device, sizes: Sizes, timing: Timing, variants: Sequence[str],
         compile_ok: bool, isolate: bool, quick: bool, threads: int | None, deadline: float | None = None,
         gemm_size: int = GEMM_SIZES["cpu"]) -> dict:
    from .provenance import git_state, library_versions, utc_now

    start = time.perf_counter()
    report: dict[str, Any] = {
        "schema": SCHEMA, "device": device_name(dev), "device_type": dev.type, "quick": quick,
        "sizes": asdict(sizes), "variants": {v: asdict(_effective(v, compile_ok)) for v in ("eager", *variants)},
        "compile_enabled": compile_ok, "isolated": isolate, "timing": asdict(timing),
        "host": host_info(dev), "git": git_state(), "versions": library_versions(), "started": utc_now(),
        "flop_counter": {"tool": "torch.utils.flop_counter.FlopCounterMode", "ops": list(FLOP_COUNTED_OPS),
                         "counts": "matmul, convolution and attention FLOPs (2 per multiply-add) of one timed "
                                   "call: forward for inference, forward + backward for training; elementwise "
                                   "ops, norms, pooling, losses and the optimiser update are not counted"},
        "gemm": None, "results": {},
    }
    specs = _model_specs(sizes)
    if any(name in specs for name in names):
        report["gemm"] = _logged("gemm_fp32", str(gemm_size), lambda _: gemm_rate(dev, gemm_size, timing))
    for name in names:
        if name == "synth":
            report["results"][name] = _logged(name, "-", lambda _: bench_synth(sizes, timing))
        elif name == "loader":
            report["results"][name] = _logged(name, "-", lambda _: bench_loader(sizes, timing, dev))
        elif name in STUDY_GOALS_S:
            study = name.removeprefix("study_")
            report["results"][name] = _logged(name, "-", lambda _, study=study: bench_study(study, threads))
        else:
            base = {**specs[name], "name": name, "sizes": asdict(sizes), "device": str(dev), "timing": asdict(timing),
                    "threads": threads}
            report["results"][name] = _model_bench(base, variants, compile_ok, isolate, deadline, report["gemm"])
    report["wall_s"] = time.perf_counter() - start
    report["loadavg_1m_end"] = _load()
    return report


# --- the table --------------------------------------------------------------------------------

def _num(value: float | None, width: int, fmt: str) -> str:
    return f"{value:{width}{fmt}}" if value is not None else f"{'-':>{width}}"


def format_report(report: dict) -> str:
    """Plain-text table, one row per benchmark and variant: images/s (median), spread of the
    repeats, ratio to eager, achieved GFLOP/s (matmul/conv FLOPs, :func:`count_flops`) and its
    percentage of the run's fp32 GEMM rate (named in the line above the table), first-call
    (compile/warm-up) seconds, payback (images after which a faster variant has earned back its
    extra first-call time), peak memory (MiB), load average."""
    host = report["host"]
    lines = [
        f"device {report['device']}  sizes {report['sizes']['name']}{' (quick)' if report['quick'] else ''}"
        f"  compile {'on' if report['compile_enabled'] else 'off'}  -> {report.get('path', '')}",
        f"host: {host['processor']}, {host['cpu_count']} cores, {host['torch_threads']} torch threads, "
        f"load {host['loadavg_1m']} -> {report.get('loadavg_1m_end')}, bf16-native "
        f"{'yes' if host['cpu_bf16_native'] else 'no'}, wall {report.get('wall_s', 0):.0f} s",
        _gemm_line(report.get("gemm")),
        f"{'benchmark':20s} {'variant':14s} {'img/s':>9s} {'spread':>7s} {'x eager':>8s} {'GFLOP/s':>8s} "
        f"{'of GEMM':>8s} {'first s':>8s} {'payback':>8s} {'peak MB':>8s} {'load':>5s}",
    ]
    for name, r in report["results"].items():
        if name in STUDY_GOALS_S:
            status = r.get("error") or ("meets goal" if r["meets_goal"] else "over goal")
            wall = r.get("wall_s")
            lines.append(f"{name:20s} {'wall':14s} {_num(wall, 9, '.0f')} s (goal {r.get('goal_s', 0):.0f} s)"
                         f"  {status[:80]}")
        elif "variants" in r:
            for variant, m in r["variants"].items():
                lines.append(_row(name, variant, m, r["ratios"].get(variant),
                                  r.get("payback_images", {}).get(variant)))
        else:
            lines.append(_row(name, "-", r, None, None))
    return "\n".join(lines)


def _gemm_line(gemm: dict | None) -> str:
    if gemm is None:
        return "fp32 GEMM reference: not measured (no model benchmark in this run)"
    return (f"fp32 GEMM reference: {gemm['size']}x{gemm['size']} mm on {gemm['device']}, {gemm['threads']} torch "
            f"threads: {gemm['gflop_per_s']:.1f} GFLOP/s (spread {100 * gemm['spread']:.0f}%); model GFLOP/s count "
            "matmul/conv FLOPs only (torch.utils.flop_counter)")


def _row(name: str, variant: str, m: dict, ratio: float | None, payback: float | None) -> str:
    if "error" in m:
        return f"{name:20s} {variant:14s} {'error':>9s}  {m['error'][:90]}"
    spread, fraction = m.get("spread"), m.get("gemm_fraction")
    return (f"{name:20s} {variant:14s} {m['images_per_s']:9.2f} {_num(spread and 100 * spread, 6, '.0f')}%"
            f" {_num(ratio, 8, '.2f')} {_num(m.get('achieved_gflop_per_s'), 8, '.2f')}"
            f" {_num(fraction and 100 * fraction, 7, '.1f')}%"
            f" {_num(m.get('first_call_s'), 8, '.1f')} {_num(payback, 8, '.0f')}"
            f" {_num(m.get('peak_memory_mb'), 8, '.0f')} {_num(m.get('loadavg_1m'), 5, '.1f')}")


# --- command line -----------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``depthstudy bench`` options (also used by ``python -m depthstudy.bench``)."""
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=BENCHMARKS,
                        help=f"benchmarks (default: {' '.join(DEFAULT_BENCHMARKS)}; also {' '.join(STUDY_GOALS_S)})")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true", help="smoke sizes, short timings, no compile")
    parser.add_argument("--sizes", default=None, metavar="NAME", help="paper (default) or a profile name")
    parser.add_argument("--variants", nargs="+", metavar="NAME", choices=tuple(VARIANTS),
                        help=f"execution paths to compare with eager (default: fast); any of {' '.join(VARIANTS)}")
    parser.add_argument("--no-compile", action="store_true", help="leave torch.compile out of every variant")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--gemm-size", type=int, default=None, metavar="N",
                        help="side of the fp32 GEMM reference (default: 1024 on the CPU, 8192 on CUDA)")


def run_from_args(args: argparse.Namespace) -> dict:
    """:func:`run` with the options of :func:`add_arguments`."""
    return run(only=args.only, device=args.device, quick=args.quick, sizes=args.sizes, variants=args.variants,
               compile=False if args.no_compile else None, threads=args.threads, gemm_size=args.gemm_size)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m depthstudy.bench [options]`` (and the internal ``--child SPEC OUT``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        return _child_main(*argv[1:3])
    parser = argparse.ArgumentParser(prog="python -m depthstudy.bench", description=__doc__.split("\n")[0])
    add_arguments(parser)
    print(format_report(run_from_args(parser.parse_args(argv))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
