"""Training engine: one loop for every study (see ``loop`` for the step, ``optim`` for CLIFFNet's
optimiser, ``checkpoint`` for resume, ``distributed`` for torchrun/DDP, ``seeding`` for
reproducibility).

>>> from depthstudy.engine import TrainConfig, train, evaluate
>>> result = train(model, loss, train_set, TrainConfig(steps=300, batch_size=8, lr=1e-4))
>>> scores = evaluate(result.model, test_set, protocol="synthetic", depth_ranges=(None, (0, 4)))
"""

from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig, resolve_device
from .distributed import get_rank, get_world_size, is_main_process
from .loop import EvalResult, TrainResult, evaluate, predict, range_label, train, train_step
from .optim import build_optimizer, build_scheduler, param_groups
from .seeding import seed_everything

__all__ = [
    "TrainConfig", "TrainResult", "EvalResult", "train", "train_step", "predict", "evaluate", "range_label",
    "param_groups", "build_optimizer", "build_scheduler", "seed_everything",
    "is_main_process", "get_rank", "get_world_size", "resolve_device",
    "load_checkpoint", "save_checkpoint",
]
