"""Optimiser and learning-rate schedule of CLIFFNet's released code (scott89/CLIFFNet).

- Adam (betas 0.9/0.999, eps 1e-8) with COUPLED L2 weight decay, i.e. ``torch.optim.Adam``'s
  ``weight_decay`` (the decay term is added to the gradient before the moment estimates; not AdamW).
- Decay applies to the weights of convolutions (incl. transposed) and linear layers only; BN/norm
  parameters, every bias and every other parameter (e.g. the synergy network's scalar LSU weights)
  get 0. Parameters with ``requires_grad=False`` are not optimised.
- Step schedule: ``MultiStepLR`` stepped once per iteration; iterations 1..m use the base lr and
  iteration m+1 onwards the decayed one, for each milestone m.

Deviation: at each lr decay CLIFFNet's code reloads the model and optimiser state from the best
epoch so far, selected on the test set (best delta1 on the 654 test images). That is model selection
on test data, so it is not reproduced: the schedule here is a plain step decay.
"""

from __future__ import annotations

import torch
from torch import nn

DECAYED_MODULES = (nn.modules.conv._ConvNd, nn.Linear)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two Adam parameter groups: ``"decay"`` (conv/linear weights) and ``"no_decay"`` (the rest).

    Shared parameters are listed once; frozen ones (``requires_grad=False``) are left out; empty
    groups are dropped.
    """
    decay, no_decay, seen = [], [], set()
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if id(param) in seen or not param.requires_grad:
                continue
            seen.add(id(param))
            wants_decay = isinstance(module, DECAYED_MODULES) and name == "weight" and param.ndim > 1
            (decay if wants_decay else no_decay).append(param)
    groups = [{"name": "decay", "params": decay, "weight_decay": float(weight_decay)},
              {"name": "no_decay", "params": no_decay, "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    if not groups:
        raise ValueError("model has no trainable parameters (all requires_grad=False or none at all)")
    return groups


def build_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Adam:
    """Adam over :func:`param_groups` with coupled L2 decay (torch defaults for betas and eps)."""
    return torch.optim.Adam(param_groups(model, weight_decay), lr=lr, betas=(0.9, 0.999), eps=1e-8)


def build_scheduler(optimizer: torch.optim.Optimizer, decay_steps: tuple[int, ...],
                    gamma: float) -> torch.optim.lr_scheduler.MultiStepLR:
    """Step decay by ``gamma`` after each iteration in ``decay_steps`` (stepped every iteration)."""
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(decay_steps), gamma=gamma)
