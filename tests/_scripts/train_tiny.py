"""Train TinyNet (BN + dropout) with checkpoints; used by tests/test_checkpoint_resume.py.

Usage: python train_tiny.py OUT_DIR STEPS CHECKPOINT_EVERY
Writes OUT_DIR/final.pt (the state dict) and OUT_DIR/history.json. With KILL_AT_STEP=k in the
environment, the process SIGKILLs itself right after the checkpoint of step k.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from tiny_engine import TinyDataset, TinyLoss, build_tiny

from depthstudy.engine import TrainConfig, train


def main(out_dir: str, steps: str, every: str) -> None:
    kill_at = int(os.environ.get("KILL_AT_STEP", "0"))

    def on_log(row: dict) -> None:
        if row["step"] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    config = TrainConfig(steps=int(steps), batch_size=4, lr=1e-2, weight_decay=1e-3, seed=7,
                         lr_decay_steps=(5,), device="cpu", log_every=1, progress=False,
                         checkpoint_every=int(every), checkpoint_dir=str(Path(out_dir) / "ckpt"))
    result = train(build_tiny(3, bn=True, dropout=0.3), TinyLoss(), TinyDataset(10, seed=2), config,
                   on_log=on_log)
    torch.save(result.model.state_dict(), Path(out_dir) / "final.pt")
    payload = {"resumed_from": result.resumed_from, "history": result.history.to_dict(orient="list")}
    (Path(out_dir) / "history.json").write_text(json.dumps(payload))


if __name__ == "__main__":
    main(*sys.argv[1:])
