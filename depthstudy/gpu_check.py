"""The prepared GPU check (``make gpu-check``, ``python -m depthstudy.gpu_check``): one run of a few
minutes on a CUDA machine that measures what the gpu and nyu profiles rely on (Decision D12).

1. Training check: CLIFFNet (L1 loss) trains ``TRAIN_STEPS`` = 200 steps at 228x304, ResNet-50,
   batch 8, on SynthRooms at the gpu profile's size, twice from the same seed and data order:
   ``eager`` (float32, no channels_last, no compile) and ``fast`` (the gpu profile's own path:
   bf16 autocast, channels_last, ``torch.compile``), through :func:`depthstudy.experiment.train_config`
   and :func:`depthstudy.engine.train` as the study notebooks use them. Agreement: the mean
   total loss of the first logging window (same weights, same batches; bf16 rounding only) within
   ``FIRST_WINDOW_RTOL`` and of the last ``TAIL_WINDOWS`` windows within ``TAIL_RTOL``.
2. The bench (:mod:`depthstudy.bench`) at paper sizes: CLIFFNet training batch 8 and inference
   batch 1 and 32, each as eager, bf16 (AMP), channels_last, compile and fast, with the ratios
   to eager, in one process with shortened timings (:data:`GPU_CHECK_TIMING`).

Both parts stop at a deadline (``--budget-s``, default 450 s of the 8-minute goal): a part that
would start after it is recorded as skipped, never silently left out. The report (the bench's
JSON plus ``training_check`` and ``budget_s``) goes to ``results/bench/<device>.json``.

Without CUDA it prints one line and exits with status 2; nothing is written.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from . import bench, io, paths

TRAIN_STEPS = 200
TAIL_WINDOWS = 5
FIRST_WINDOW_RTOL = 0.05
TAIL_RTOL = 0.15
BENCH_NAMES = ("train_cliffnet", "infer_cliffnet_b1", "infer_cliffnet_b32")
BENCH_VARIANTS = ("bf16", "channels_last", "compile", "fast")
GPU_CHECK_TIMING = bench.Timing(warmup_s=1.0, warmup_iters=3, min_time_s=0.5, min_iters=3, repeats=3)
DEFAULT_BUDGET_S = 450.0
EXIT_NO_CUDA = 2
FAST = {"amp": True, "channels_last": True, "compile": True}
EAGER = {"amp": False, "channels_last": False, "compile": False}


def require_cuda() -> str | None:
    """None when CUDA is usable, else the one-line reason the check refuses to run."""
    if torch.cuda.is_available():
        return None
    return (f"gpu-check: no CUDA device (torch {torch.__version__}, torch.cuda.is_available() is False); "
            "run it on a machine with an NVIDIA GPU and a CUDA build of torch, see README 'Performance'")


def _loss_curve(profile, train_set, seed: int, steps: int, path: dict[str, bool]) -> dict[str, Any]:
    from .engine import train
    from .experiment import build_variant_loss, build_variant_model, train_config
    from .studies.cliffnet import loss_variants

    variant = loss_variants(profile, scene_classes=1)["l1"]
    model = build_variant_model(profile, variant, seed)
    config = train_config(profile, seed, steps=steps, progress=False, **path)
    start = time.perf_counter()
    result = train(model, build_variant_loss(variant), train_set, config)
    history = result.history
    return {"path": path, "log_every": config.log_every, "wall_s": round(time.perf_counter() - start, 2),
            "total": history["total"].tolist(), "images_per_s_last": float(history["images_per_s"].iloc[-1])}


def compare_curves(eager: Sequence[float], fast: Sequence[float], tail: int = TAIL_WINDOWS) -> dict[str, Any]:
    """Relative differences of the first window and of the mean of the last ``tail`` windows, and
    whether both are within :data:`FIRST_WINDOW_RTOL` / :data:`TAIL_RTOL`."""
    if len(eager) != len(fast) or not eager:
        raise ValueError(f"loss curves must have the same non-zero length; got {len(eager)} and {len(fast)}")
    first = abs(fast[0] - eager[0]) / abs(eager[0])
    e_tail, f_tail = statistics.fmean(eager[-tail:]), statistics.fmean(fast[-tail:])
    tail_diff = abs(f_tail - e_tail) / abs(e_tail)
    return {"first_window_rel_diff": first, "tail_mean_rel_diff": tail_diff, "tail_windows": min(tail, len(eager)),
            "agree": bool(first <= FIRST_WINDOW_RTOL and tail_diff <= TAIL_RTOL)}


def training_check(profile, steps: int = TRAIN_STEPS, seed: int = 0,
                   fast: dict[str, bool] | None = None) -> dict[str, Any]:
    """Train CLIFFNet with the eager and the fast path from one seed; return both curves and
    :func:`compare_curves`. ``profile`` gives sizes, data and device (the gpu profile here)."""
    from .data.factory import build_dataset

    train_set = build_dataset(profile, "train", family="cliffnet")
    curves = {}
    for name, path in (("eager", EAGER), ("fast", fast or FAST)):
        try:
            curves[name] = _loss_curve(profile, train_set, seed, steps, path)
        except Exception as exc:  # e.g. a compile failure: reported in the JSON, the bench still runs
            curves[name] = {"path": path, "error": f"{type(exc).__name__}: {exc}"}
    report = {"steps": steps, "size": f"{profile.height}x{profile.width}", "batch_size": profile.batch_size,
              **curves}
    if any("error" in c for c in curves.values()):
        return {**report, "agree": False}
    return {**report, **compare_curves(curves["eager"]["total"], curves["fast"]["total"])}


def check_profile():
    """The gpu profile with enough SynthRooms views for 200 batches of 8 (25 scenes x 8 views)."""
    from .profiles import get_profile

    return get_profile("gpu", train_scenes=25, test_scenes=1, views_per_scene=8, device="cuda", num_workers=4)


def run(budget_s: float = DEFAULT_BUDGET_S, out_dir: Path | None = None) -> dict[str, Any]:
    """Both parts on CUDA (module docstring); returns the report with its ``path``."""
    reason = require_cuda()
    if reason:
        raise RuntimeError(reason)
    deadline = time.perf_counter() + budget_s
    training = training_check(check_profile())
    with tempfile.TemporaryDirectory() as tmp:
        if time.perf_counter() < deadline:
            report = bench.run(only=list(BENCH_NAMES), device="cuda", variants=BENCH_VARIANTS, compile=True,
                               isolate=False, out_dir=tmp, timing=GPU_CHECK_TIMING,
                               deadline=deadline)
        else:
            report = {"device": bench.device_name(torch.device("cuda")), "results": {},
                      "skipped": f"bench not started: the {budget_s:.0f} s budget was spent by the training check"}
    report.pop("path", None)
    report.update(training_check=training, budget_s=budget_s, check="depthstudy.gpu_check")
    target = Path(out_dir or paths.results_dir() / "bench") / f"{report['device']}.json"
    io.write_json(target, report)
    report["path"] = str(target)
    return report


def _training_line(t: dict[str, Any]) -> str:
    head = f"training check ({t['steps']} steps, {t['size']}, batch {t['batch_size']})"
    errors = [f"{name}: {t[name]['error']}" for name in ("eager", "fast") if "error" in t[name]]
    if errors:
        return f"{head}: FAILED; " + "; ".join(errors)
    return (f"{head}: eager {t['eager']['wall_s']} s, fast {t['fast']['wall_s']} s; first-window loss rel. diff "
            f"{t['first_window_rel_diff']:.3g}, last-{t['tail_windows']} mean {t['tail_mean_rel_diff']:.3g}: "
            f"{'agree' if t['agree'] else 'DISAGREE'}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m depthstudy.gpu_check", description=__doc__.split("\n")[0])
    parser.add_argument("--budget-s", type=float, default=DEFAULT_BUDGET_S,
                        help=f"seconds after which no further part starts (default {DEFAULT_BUDGET_S:.0f})")
    args = parser.parse_args(argv)
    reason = require_cuda()
    if reason:
        print(reason, file=sys.stderr)
        return EXIT_NO_CUDA
    report = run(args.budget_s)
    t = report["training_check"]
    print(report["skipped"] if "skipped" in report else bench.format_report(report))
    print(_training_line(t))
    print(f"written: {report['path']}")
    return 0 if t["agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
