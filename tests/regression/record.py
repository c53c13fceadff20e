"""Record the smoke-profile regression baseline from a fresh run of the notebooks.

    DEPTHSTUDY_RESULTS=/tmp/rr .venv/bin/depthstudy run --profile smoke
    DEPTHSTUDY_RESULTS=/tmp/rr .venv/bin/python tests/regression/record.py

Writes ``tests/regression/smoke_expected.csv``: one row per (study, variant, seed, depth_range,
metric) with its tolerance. These are values our own code produced (never paper numbers); a
change that moves them must be deliberate, and the baseline re-recorded in the same commit.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
# Dataset statistics are exact functions of the generator; trained metrics depend on float
# summation order, so they get a looser relative tolerance.
TOLERANCES = {"datasets": (1e-6, 1e-9)}
DEFAULT_TOLERANCE = (0.02, 1e-3)


def main() -> int:
    root = Path(os.environ["DEPTHSTUDY_RESULTS"]) / "smoke"
    frames = []
    for metrics in sorted(root.glob("*/metrics.csv")):
        df = pd.read_csv(metrics)
        rtol, atol = TOLERANCES.get(metrics.parent.name, DEFAULT_TOLERANCE)
        df["rtol"], df["atol"] = rtol, atol
        frames.append(df)
    if not frames:
        print(f"no smoke results under {root}", file=sys.stderr)
        return 1
    out = pd.concat(frames)[["study", "variant", "seed", "protocol", "depth_range", "metric", "value", "rtol", "atol"]]
    out.to_csv(HERE / "smoke_expected.csv", index=False)
    print(f"recorded {len(out)} values from {len(frames)} studies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
