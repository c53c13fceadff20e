"""Every depth model can fit 4 SynthRooms images: its L1 loss halves within a bounded number of steps.

A model that cannot reduce its loss on four images has a broken forward or backward path (a
detached branch, a wrong resize, a frozen head): this catches what shape tests cannot.
"""

import pytest
import torch

from depthstudy import losses, models
from depthstudy.data.synthrooms import SynthRooms

MAX_STEPS = 150
SMALL = dict(backbone_depth=18, backbone_width=0.25)
DEPTH_MODELS = {
    "cliffnet": dict(SMALL, fpn_channels=32),
    "cliffnet_baseline": dict(SMALL, fpn_channels=32, variant="baseline"),
    "fcrn": dict(SMALL),
    "encdec": dict(base=8),
    "synergy": dict(SMALL, classes=4),
    "synergy_depth_only": dict(SMALL, depth_only=True),
    "structure_branch": dict(kind="branch", split=3, stem="resnet18", stem_width=0.25, width=16),
}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    ds = SynthRooms("train", height=48, width=64, train_scenes=2, test_scenes=1, views_per_scene=2,
                    classes=4, cache_dir=tmp_path_factory.mktemp("synth"))
    return torch.utils.data.default_collate([ds[i] for i in range(4)])


@pytest.mark.parametrize("name", sorted(DEPTH_MODELS))
def test_l1_halves_on_four_images(name, batch):
    torch.manual_seed(0)
    registry_name = name.split("_")[0] if name != "synergy_depth_only" else "synergy"
    model = models.build(registry_name, **DEPTH_MODELS[name])
    loss_fn = losses.build("l1")
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    first = None
    for _ in range(MAX_STEPS):
        loss = loss_fn(model(batch["image"]), batch)["total"]
        first = float(loss) if first is None else first
        if float(loss) <= first / 2:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) <= first / 2, f"{name}: L1 {first:.3f} -> {float(loss):.3f} after {MAX_STEPS} steps"
