"""experiment.run_variant: train, evaluate, record rows, reuse checkpoints, reload weights."""

import pytest
import torch

from depthstudy import experiment, results
from depthstudy.profiles import get_profile


class TinyRooms(torch.utils.data.Dataset):
    """Random images whose depth is a smooth function of the image (learnable), 40 classes."""

    def __init__(self, n=8, h=32, w=40, offset=0):
        g = torch.Generator().manual_seed(offset)
        self.items = []
        for i in range(n):
            img = torch.rand(3, h, w, generator=g)
            depth = 1.0 + 4.0 * img.mean(0, keepdim=True)
            sem = (img[0] * 3).long().clamp(max=2)
            self.items.append(dict(image=img, depth=depth, raw_depth=depth.clone(), semantic=sem,
                                   scene=i // 2, scene_name=f"room_{i // 2:04d}", scene_type="room",
                                   index=i + offset))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


@pytest.fixture
def profile(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPTHSTUDY_CACHE", str(tmp_path / "cache"))
    return get_profile("smoke", steps=4, batch_size=4, height=32, width=40)


def test_run_variant_records_rows_and_reuses_checkpoint(profile, tmp_path):
    writer = results.StudyWriter("toy", "smoke", root=tmp_path / "results", dataset="tiny",
                                 protocol="synthetic", params={})
    variant = experiment.Variant("synergy_da", "synergy", {"classes": 3}, loss={"da": 1.0, "ce": 1.0}, classes=3)
    out = experiment.run_variant(profile, variant, 0, TinyRooms(), TinyRooms(4, offset=100), study="toy",
                                 writer=writer, depth_ranges=(None, 4.0))
    rows = writer.rows if isinstance(writer.rows, list) else writer.rows.to_dict("records")
    ranges = {r["depth_range"] for r in rows}
    metrics = {r["metric"] for r in rows}
    assert ranges == {"all", "<4m"}
    assert {"rmse", "abs_rel", "delta1", "miou", "pixel_acc"} <= metrics
    assert out.checkpoint is not None and out.checkpoint.is_file()
    # same seed and settings: the finished checkpoint is reused, weights identical
    again = experiment.load_trained(profile, "toy", variant, 0)
    for a, b in zip(out.model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a.cpu(), b.cpu())
    # a changed profile field gives a different run folder
    assert experiment.run_dir(profile, "toy", variant, 0) != experiment.run_dir(
        profile.replace(lr=1.0), "toy", variant, 0)


def test_load_trained_missing_names_the_study(profile):
    variant = experiment.Variant("x", "encdec")
    with pytest.raises(FileNotFoundError, match="run the 'nostudy' notebook first"):
        experiment.load_trained(profile, "nostudy", variant, 0)
