"""Record both regression baselines of ``tests/test_regression.py``.

    .venv/bin/python tests/regression/record.py probes            # ~15 s, no notebooks
    DEPTHSTUDY_RESULTS=/tmp/rr .venv/bin/depthstudy run --profile smoke
    DEPTHSTUDY_RESULTS=/tmp/rr .venv/bin/python tests/regression/record.py smoke

``probes`` writes ``probes_expected.csv`` (group, name, value, rtol, atol) from the fixed
computations of ``probes.py``; ``smoke`` writes ``smoke_expected.csv`` (one row per study,
variant, seed, protocol, depth_range, metric, with ``check`` = ``exact`` or ``range``) from the
``metrics.csv`` files of a smoke run. Both are values our own code produced (never paper numbers);
a change that moves them must be deliberate and re-record them in the same commit. The check
tolerates rows and studies that are not in a baseline, so record again after adding some.

The tolerances (Decision X2) are about 30x the largest spread measured across ``ATEN_CPU_CAPABILITY=default``
and ``avx2`` with ``OMP_NUM_THREADS=1`` and ``2`` (numbers in ``tests/test_regression.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pandas as pd
import probes  # the sibling module: a script's own folder is on sys.path

HERE = Path(__file__).resolve().parent
PROBE_FILE = HERE / "probes_expected.csv"
SMOKE_FILE = HERE / "smoke_expected.csv"
SMOKE_KEY = ["study", "variant", "seed", "protocol", "depth_range", "metric"]
# (rtol, atol) per probe group; measured largest relative spread in the comment.
PROBE_TOLERANCES = {
    "data": (1e-6, 0.0),       # 0 (identical pixels)
    "metrics": (1e-6, 1e-9),   # 1.8e-8
    "losses": (1e-5, 1e-9),    # 1.2e-7
    "models": (1e-4, 1e-7),    # 3.6e-6 (absolute 8e-9 on values near 0)
    "training": (0.1, 0.0),    # 1.7e-2 after 12 steps (loss_first: see TRAINING_FIRST)
}
TRAINING_FIRST = (1e-4, 0.0)   # 1.6e-6: the first window is two steps from identical weights
# Studies whose numbers are exact functions of the SynthRooms generator; every other study trains.
EXACT_STUDIES = {"datasets": (1e-6, 1e-9)}


def record_probes() -> int:
    rows = []
    for group, probe in probes.PROBES.items():
        rtol, atol = PROBE_TOLERANCES[group]
        for name, value in probe().items():
            tol = TRAINING_FIRST if (group, name) == ("training", "loss_first") else (rtol, atol)
            rows.append({"group": group, "name": name, "value": value, "rtol": tol[0], "atol": tol[1]})
    pd.DataFrame(rows).to_csv(PROBE_FILE, index=False, float_format="%.12g")
    print(f"recorded {len(rows)} probe values to {PROBE_FILE}")
    return 0


def record_smoke() -> int:
    if "DEPTHSTUDY_RESULTS" not in os.environ:
        print("set DEPTHSTUDY_RESULTS to the results root of a smoke run", file=sys.stderr)
        return 2
    root = Path(os.environ["DEPTHSTUDY_RESULTS"]) / "smoke"
    frames = []
    for metrics in sorted(root.glob("*/metrics.csv")):
        df = pd.read_csv(metrics)
        exact = EXACT_STUDIES.get(metrics.parent.name)
        df["check"] = "exact" if exact else "range"
        df["rtol"], df["atol"] = exact or (float("nan"), float("nan"))
        frames.append(df)
    if not frames:
        print(f"no smoke results under {root}", file=sys.stderr)
        return 1
    out = pd.concat(frames)[SMOKE_KEY + ["value", "check", "rtol", "atol"]]
    out.to_csv(SMOKE_FILE, index=False)
    print(f"recorded {len(out)} values from {len(frames)} studies to {SMOKE_FILE}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("which", choices=["probes", "smoke"], help="which baseline to record")
    args = parser.parse_args(argv)
    return record_probes() if args.which == "probes" else record_smoke()


if __name__ == "__main__":
    sys.exit(main())
