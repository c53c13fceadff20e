"""Information-sharing structures of Jiao et al. suppl. section 2 (Fig. 2, Tables 1 and 2).

The supplement says only that "each task consists of 5 convolutional layers", trained on NYUv2
with 4 semantic classes, and describes fine-tuned, cascaded, merge-in and branch-out sharing.
Everything below the level of that sentence is a decision of this re-implementation:

- **Task network** = stem + 5 task layers + a prediction conv. The stem is a ResNet trunk
  (``stem="resnet18"`` at ``stem_width`` 0.25 by default), so that five conv layers have enough
  receptive field to predict depth; it belongs to the task network and is shared exactly when
  layer 1 is shared (branch-out), separate otherwise. Every kind uses the same stem, the same
  five layers and the same heads, so the comparison is about where the task networks share.
- **Task layer i** (i = 1..5) = bilinear resize to its scale, then 3x3 conv (``width`` channels)
  + BN + ReLU. Layers 1-4 go from the stem's 1/32 output to 1/16, 1/8, 1/4, 1/2 (the sizes of
  the stem's c4, c3, c2 maps and ceil(H/2) x ceil(W/2)); layer 5 stays at 1/2. This mirrors the
  five conv stages of a synergy-network branch (four up-convs + prediction).
- **Prediction conv** = 1x1 conv with bias to 1 (depth, metres, no activation, bias starting at
  2.5 m: Decision J18) or C (semantic logits) channels, always task-specific, then bilinear
  resize to the input size. It is not
  counted among the five layers: sharing a linear prediction conv between tasks is the same as
  not sharing it (its output channels are independent), so counting it would make S1-5 identical
  to S1-4. Hence ``branch`` with ``split=5`` = stem and all five layers shared, only the two
  prediction convs task-specific.

Kinds (``build("structure", kind=...)``):

- ``single_depth`` / ``single_semantic``: one task network (the baselines of Tables 1-2).
- ``finetune``: one task network with both prediction convs; ``set_stage(task)`` selects the
  active one and forward returns only that task. Train on task A in stage A, then call
  ``set_stage(B)`` and fine-tune everything on B (suppl.: "first train a network on the data
  from A, and then fine-tune this network with the new data from B").
- ``cascade_ds`` (depth first) / ``cascade_sd`` (semantic first): two task networks in series;
  the second one's stem gets the image and the first network's output at input resolution
  (depth in metres, or the softmax class probabilities), concatenated after input
  normalisation and mapped to 3 channels by a 1x1 conv initialised to pass the RGB through and
  ignore the extra channels (so the second network starts as a plain single-task network).
  Not detached: both losses back-propagate into the first network (suppl.: "A shares both
  forward and backward information").
- ``merge``: two sub-networks (own stems) run layers 1..5-m; their outputs are concatenated and
  go through the m shared final layers (the first takes 2*width channels); then the two
  prediction convs. ``split`` = m in 1..4, default 1. Pre-training the sub-networks first
  (suppl.: "first pre-trained on each dataset, and then merged") is a training procedure.
- ``branch``: stem and layers 1..k shared, layers k+1..5 per task; ``split`` = k in 1..5
  (Table 2's S1 ... S1-5).

Outputs: ``depth`` [B,1,H,W] metres and/or ``semantic`` [B,C,H,W] logits, at input resolution.
``branch_parameters(task)``: the parameters of that task's own sub-network (for cascades the whole
task network, including the one feeding the other task; for merge/branch its unshared layers,
stem where unshared, and head; for finetune its prediction conv; for single-task kinds all
parameters); parameters used by both tasks are excluded.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import torch
import torch.nn as nn

from . import MODELS
from .fcrn import DEPTH_BIAS_M, check_image, half_size, resize_to
from .resnet import InputNorm, load_backbone_weights, pretrained_path, resnet

TASKS = ("depth", "semantic")
KINDS = ("single_depth", "single_semantic", "finetune", "cascade_ds", "cascade_sd", "merge",
         "branch")
STEMS = {"resnet18": 18, "resnet34": 34, "resnet50": 50}
N_LAYERS = 5


class Stem(nn.Module):
    """Input normalisation + optional extra-input adapter + ResNet trunk.

    Args:
        stem, stem_width, stride: the trunk (``STEMS`` key, width multiplier, stride placement).
        input_norm: ``InputNorm`` mode.
        extra_channels: channels appended to the normalised image (cascades); 0 for none.
        pretrained: local torchvision-format weights for the trunk, or None.
    """

    def __init__(self, stem: str, stem_width: float, stride: str, input_norm: str,
                 extra_channels: int = 0, pretrained: str | Path | None = None):
        super().__init__()
        if stem not in STEMS:
            raise ValueError(f"stem must be one of {sorted(STEMS)}, got {stem!r}")
        self.norm = InputNorm(input_norm)
        self.adapter = _rgb_passthrough(3 + extra_channels) if extra_channels else None
        self.trunk = resnet(depth=STEMS[stem], stride=stride, width=stem_width)
        if pretrained is not None:
            load_backbone_weights(self.trunk, pretrained)
        self.out_channels = self.trunk.out_channels[-1]

    def forward(self, image: torch.Tensor, extra: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, list[tuple[int, int]]]:
        """image [B,3,H,W] (+ extra [B,k,H,W]) -> (c5 [B,C5,H/32,W/32], sizes of layers 1..5)."""
        x = self.norm(image)
        if self.adapter is not None:
            x = self.adapter(torch.cat((x, extra), dim=1))
        c2, c3, c4, c5 = self.trunk(x)
        half = half_size(image.shape[-2:])
        sizes = [tuple(c4.shape[-2:]), tuple(c3.shape[-2:]), tuple(c2.shape[-2:]), half, half]
        return c5, sizes


def _rgb_passthrough(cin: int) -> nn.Conv2d:
    """1x1 conv cin -> 3 initialised to copy the first 3 (RGB) channels and ignore the rest."""
    conv = nn.Conv2d(cin, 3, 1, bias=True)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[:, :3, 0, 0] = torch.eye(3)
        conv.bias.zero_()
    return conv


class TaskLayer(nn.Module):
    """Bilinear resize to the layer's size, then 3x3 conv (no bias) + BN + ReLU."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """x [B,cin,h,w] -> [B,cout,size]."""
        return torch.relu(self.bn(self.conv(resize_to(x, size))))


class Layers(nn.ModuleList):
    """Task layers ``first``..``last`` (1-based, inclusive); ``cin`` feeds the first of them."""

    def __init__(self, first: int, last: int, cin: int, width: int):
        super().__init__(TaskLayer(cin if i == first else width, width)
                         for i in range(first, last + 1))
        self.first = first

    def run(self, x: torch.Tensor, sizes: list[tuple[int, int]]) -> torch.Tensor:
        """Apply the layers, layer i at ``sizes[i - 1]``."""
        for offset, layer in enumerate(self):
            x = layer(x, sizes[self.first - 1 + offset])
        return x


def prediction_conv(width: int, out_channels: int) -> nn.Conv2d:
    """The 1x1 prediction conv with bias; a depth conv (one channel) starts at :data:`DEPTH_BIAS_M`."""
    conv = nn.Conv2d(width, out_channels, 1)
    if out_channels == 1:
        nn.init.constant_(conv.bias, DEPTH_BIAS_M)
    return conv


class TaskNet(nn.Module):
    """A whole single-task network: stem + layers 1..5 + prediction conv (1x1, bias)."""

    def __init__(self, out_channels: int, width: int, stem_args: dict, extra_channels: int = 0):
        super().__init__()
        self.stem = Stem(**stem_args, extra_channels=extra_channels)
        self.layers = Layers(1, N_LAYERS, self.stem.out_channels, width)
        self.head = prediction_conv(width, out_channels)

    def forward(self, image: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """image [B,3,H,W] (+ extra) -> prediction [B,out,H,W] at input resolution."""
        c5, sizes = self.stem(image, extra)
        return resize_to(self.head(self.layers.run(c5, sizes)), image.shape[-2:])


class StructureNet(nn.Module, ABC):
    """Base: task bookkeeping shared by the structure kinds."""

    tasks: tuple[str, ...] = TASKS

    @abstractmethod
    def _task_modules(self, task: str) -> list[nn.Module]:
        """The modules used only by ``task``."""

    def branch_parameters(self, task: str) -> list[nn.Parameter]:
        """Parameters used only by ``task`` (see the module docstring)."""
        if task not in self.tasks:
            raise ValueError(f"task must be one of {self.tasks} for this structure, got {task!r}")
        return [p for m in self._task_modules(task) for p in m.parameters()]


class SingleTask(StructureNet):
    """``single_depth`` / ``single_semantic``: one :class:`TaskNet`."""

    def __init__(self, task: str, classes: int, width: int, stem_args: dict):
        super().__init__()
        self.tasks = (task,)
        self.net = TaskNet(1 if task == "depth" else classes, width, stem_args)

    def _task_modules(self, task: str) -> list[nn.Module]:
        return [self.net]

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        check_image(image)
        return {self.tasks[0]: self.net(image)}


class Finetune(StructureNet):
    """``finetune``: one trunk (stem + 5 layers), both prediction convs, one active stage."""

    def __init__(self, classes: int, width: int, stem_args: dict, stage: str):
        super().__init__()
        self.stem = Stem(**stem_args)
        self.layers = Layers(1, N_LAYERS, self.stem.out_channels, width)
        self.heads = nn.ModuleDict({"depth": prediction_conv(width, 1),
                                    "semantic": prediction_conv(width, classes)})
        self.set_stage(stage)

    def set_stage(self, task: str) -> None:
        """Make ``task`` ("depth" or "semantic") the one trained and returned."""
        if task not in TASKS:
            raise ValueError(f"stage must be one of {TASKS}, got {task!r}")
        self.stage = task

    def _task_modules(self, task: str) -> list[nn.Module]:
        return [self.heads[task]]

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """image -> {stage: prediction} (only the active stage's task)."""
        check_image(image)
        c5, sizes = self.stem(image)
        x = self.heads[self.stage](self.layers.run(c5, sizes))
        return {self.stage: resize_to(x, image.shape[-2:])}


class Cascade(StructureNet):
    """``cascade_ds`` / ``cascade_sd``: the second task network sees image + first output."""

    def __init__(self, first: str, classes: int, width: int, stem_args: dict):
        super().__init__()
        self.first = first
        self.second = "semantic" if first == "depth" else "depth"
        channels = {"depth": 1, "semantic": classes}
        self.nets = nn.ModuleDict({
            first: TaskNet(channels[first], width, stem_args),
            self.second: TaskNet(channels[self.second], width, stem_args,
                                 extra_channels=channels[first]),
        })

    def _task_modules(self, task: str) -> list[nn.Module]:
        return [self.nets[task]]

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        check_image(image)
        first = self.nets[self.first](image)
        cue = first if self.first == "depth" else torch.softmax(first, dim=1)
        return {self.first: first, self.second: self.nets[self.second](image, cue)}


class Merge(StructureNet):
    """``merge``: per-task stems and layers 1..5-m, concatenated into m shared final layers."""

    def __init__(self, split: int, classes: int, width: int, stem_args: dict):
        super().__init__()
        self.split = split
        own = N_LAYERS - split
        self.stems = nn.ModuleDict({t: Stem(**stem_args) for t in TASKS})
        cin = self.stems["depth"].out_channels
        self.own = nn.ModuleDict({t: Layers(1, own, cin, width) for t in TASKS})
        self.shared = Layers(own + 1, N_LAYERS, 2 * width, width)
        self.heads = nn.ModuleDict({"depth": prediction_conv(width, 1),
                                    "semantic": prediction_conv(width, classes)})

    def _task_modules(self, task: str) -> list[nn.Module]:
        return [self.stems[task], self.own[task], self.heads[task]]

    def load_sub_networks(self, nets: dict[str, "SingleTask"]) -> None:
        """Start each task's sub-network from a trained single-task network of that task.

        ``nets``: ``{"depth": SingleTask, "semantic": SingleTask}`` of the same widths and classes.
        Their stems, layers 1..5-m and prediction convs are copied; the m shared layers keep their
        initialisation (suppl.: the sub-networks are "first pre-trained on each dataset, and then
        merged"). Raises ``ValueError`` naming the task and the module that does not fit.
        """
        for task in TASKS:
            source = nets[task]
            if not isinstance(source, SingleTask) or source.tasks != (task,):
                raise ValueError(f"load_sub_networks: nets[{task!r}] must be a single_{task} network, "
                                 f"got {type(source).__name__} for {getattr(source, 'tasks', '?')}")
            pairs = [("stem", self.stems[task], source.net.stem), ("head", self.heads[task], source.net.head)]
            layers = zip(self.own[task], source.net.layers)
            pairs += [(f"layer {i + 1}", own, src) for i, (own, src) in enumerate(layers)]
            for name, target, src in pairs:
                try:
                    target.load_state_dict(src.state_dict())
                except RuntimeError as err:
                    raise ValueError(f"load_sub_networks: the {task} network's {name} does not fit the merge-in "
                                     f"sub-network: {err}") from None

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        check_image(image)
        feats = []
        for task in TASKS:
            c5, sizes = self.stems[task](image)
            feats.append(self.own[task].run(c5, sizes))
        x = self.shared.run(torch.cat(feats, dim=1), sizes)
        return {t: resize_to(self.heads[t](x), image.shape[-2:]) for t in TASKS}


class BranchOut(StructureNet):
    """``branch``: shared stem and layers 1..k, then per-task layers k+1..5 and heads."""

    def __init__(self, split: int, classes: int, width: int, stem_args: dict):
        super().__init__()
        self.split = split
        self.stem = Stem(**stem_args)
        self.shared = Layers(1, split, self.stem.out_channels, width)
        self.own = nn.ModuleDict({t: Layers(split + 1, N_LAYERS, width, width) for t in TASKS})
        self.heads = nn.ModuleDict({"depth": prediction_conv(width, 1),
                                    "semantic": prediction_conv(width, classes)})

    def _task_modules(self, task: str) -> list[nn.Module]:
        return [self.own[task], self.heads[task]]

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        check_image(image)
        c5, sizes = self.stem(image)
        x = self.shared.run(c5, sizes)
        return {t: resize_to(self.heads[t](self.own[t].run(x, sizes)), image.shape[-2:])
                for t in TASKS}


def _check_split(kind: str, split: int | None) -> int | None:
    """Validate ``split`` for ``kind``; merge defaults to 1."""
    valid = {"branch": range(1, N_LAYERS + 1), "merge": range(1, N_LAYERS)}
    if kind not in valid:
        if split is not None:
            raise ValueError(f"split applies only to kind 'branch' or 'merge', not {kind!r}")
        return None
    if split is None and kind == "merge":
        return 1
    if not isinstance(split, int) or split not in valid[kind]:
        what = "shared layers" if kind == "branch" else "shared final layers"
        raise ValueError(f"kind {kind!r} needs split (the number of {what}) as an int in "
                         f"{valid[kind].start}..{valid[kind].stop - 1}, got {split!r}")
    return split


def structure_options(profile) -> dict:
    """Stem = the profile's ResNet, task-layer width = ``profile.head_width``."""
    return {"stem": f"resnet{profile.backbone_depth}", "stem_width": profile.backbone_width,
            "width": profile.head_width, "pretrained": pretrained_path(profile)}


@MODELS.register("structure", from_profile=structure_options)
def build_structure(kind: str = "branch", split: int | None = None, classes: int = 4,
                    width: int = 32, stem: str = "resnet18", stem_width: float = 0.25,
                    stride: str = "pytorch", input_norm: str = "imagenet",
                    pretrained: str | Path | None = None, stage: str | None = None
                    ) -> StructureNet:
    """Build a structure-study network (see the module docstring for the kinds).

    Args:
        kind: one of ``KINDS``.
        split: branch: shared layers k in 1..5 (required); merge: shared final layers m in 1..4
            (default 1); other kinds: must be None.
        classes: semantic classes (4 in the paper's study).
        width: channels of the task layers.
        stem, stem_width, stride, input_norm, pretrained: the stem (see :class:`Stem`).
        stage: finetune only, the initially active task (default "depth").
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    split = _check_split(kind, split)
    if stage is not None and kind != "finetune":
        raise ValueError(f"stage applies only to kind 'finetune', not {kind!r}")
    if not isinstance(classes, int) or classes < 2:
        raise ValueError(f"classes must be an int >= 2, got {classes!r}")
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive int, got {width!r}")
    stem_args = dict(stem=stem, stem_width=stem_width, stride=stride, input_norm=input_norm,
                     pretrained=pretrained)
    if kind.startswith("single_"):
        return SingleTask(kind.removeprefix("single_"), classes, width, stem_args)
    if kind == "finetune":
        return Finetune(classes, width, stem_args, stage or "depth")
    if kind.startswith("cascade_"):
        return Cascade("depth" if kind == "cascade_ds" else "semantic", classes, width, stem_args)
    if kind == "merge":
        return Merge(split, classes, width, stem_args)
    return BranchOut(split, classes, width, stem_args)


__all__ = ["prediction_conv", "build_structure", "StructureNet", "SingleTask", "Finetune", "Cascade", "Merge",
           "BranchOut", "TaskNet", "TaskLayer", "Layers", "Stem", "KINDS"]
