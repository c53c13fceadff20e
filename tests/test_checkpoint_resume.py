"""A training killed by SIGKILL right after a checkpoint and restarted ends with the same weights
and history as an uninterrupted run (CPU, bitwise)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from depthstudy.engine import load_checkpoint

SCRIPT = Path(__file__).parent / "_scripts" / "train_tiny.py"
ROOT = Path(__file__).resolve().parents[1]


def _run(out: Path, steps: int, every: int, kill_at: int = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KILL_AT_STEP": str(kill_at), "TQDM_DISABLE": "1"}
    out.mkdir(parents=True, exist_ok=True)
    return subprocess.run([sys.executable, str(SCRIPT), str(out), str(steps), str(every)], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_resume_after_sigkill_equals_uninterrupted(tmp_path):
    # 10 samples, batch 4 -> 2 batches per epoch: the kill at step 5 falls after an epoch boundary
    # and the lr decay (after step 5), with dropout and BN running stats in play.
    steps, every, kill_at = 9, 5, 5
    plain = _run(tmp_path / "plain", steps, every)
    assert plain.returncode == 0, plain.stderr

    killed = _run(tmp_path / "resumed", steps, every, kill_at=kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (tmp_path / "resumed" / "final.pt").exists()
    assert load_checkpoint(tmp_path / "resumed" / "ckpt" / "last.pt")["step"] == kill_at

    resumed = _run(tmp_path / "resumed", steps, every)
    assert resumed.returncode == 0, resumed.stderr

    a = torch.load(tmp_path / "plain" / "final.pt")
    b = torch.load(tmp_path / "resumed" / "final.pt")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]

    h_plain = json.loads((tmp_path / "plain" / "history.json").read_text())
    h_resumed = json.loads((tmp_path / "resumed" / "history.json").read_text())
    assert h_plain["resumed_from"] is None and h_resumed["resumed_from"] == kill_at
    assert h_resumed["history"]["step"] == list(range(1, steps + 1))
    for key in ("total", "depth", "semantic", "lr"):
        assert h_resumed["history"][key] == h_plain["history"][key]
