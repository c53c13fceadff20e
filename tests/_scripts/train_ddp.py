"""Train TinyNet (no BN, no dropout) for a few steps at global batch 8; rank 0 writes JSON.

Usage: python train_ddp.py OUT_JSON              (single process)
       python -m torch.distributed.run --standalone --nproc_per_node=2 train_ddp.py OUT_JSON
The JSON holds the world size, the per-step all-reduced losses and the final weights.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from tiny_engine import TinyDataset, TinyLoss, build_tiny

from depthstudy.engine import TrainConfig, get_world_size, is_main_process, train


def main(out_json: str) -> None:
    config = TrainConfig(steps=4, batch_size=8, lr=1e-2, seed=11, device="cpu", log_every=1, progress=False)
    world = get_world_size()
    result = train(build_tiny(5), TinyLoss(), TinyDataset(16, seed=4), config)
    if is_main_process():
        payload = {"world_size": world,
                   "history": result.history[["step", "total", "depth", "semantic"]].to_dict(orient="list"),
                   "weights": {k: v.flatten().tolist() for k, v in result.model.state_dict().items()}}
        Path(out_json).write_text(json.dumps(payload))


if __name__ == "__main__":
    main(*sys.argv[1:])
