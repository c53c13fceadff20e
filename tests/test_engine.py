"""Unit tests of depthstudy.engine: optimiser groups, schedule, seeding, NaN handling, alternate
schedule, data order, predict and evaluate (tiny CPU models; a few seconds in all)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent / "_scripts"))

from tiny_engine import TinyDataset, TinyLoss, build_tiny

from depthstudy.engine import TrainConfig, evaluate, load_checkpoint, param_groups, predict, seed_everything, train
from depthstudy.engine.optim import build_optimizer
from depthstudy.engine.progress import progress_enabled
from depthstudy.engine.sampling import ShardedBatchSampler

QUIET = dict(progress=False, device="cpu")


class Mixed(nn.Module):
    """Every parameter kind the decay rule distinguishes."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.up = nn.ConvTranspose2d(4, 4, 2)
        self.gn = nn.GroupNorm(2, 4)
        self.fc = nn.Linear(4, 2)
        self.lsu = nn.Parameter(torch.zeros(()))
        self.frozen = nn.Conv2d(4, 4, 1)
        self.frozen.requires_grad_(False)


def test_weight_decay_only_on_conv_and_linear_weights():
    m = Mixed()
    groups = {g["name"]: g for g in param_groups(m, 1e-4)}
    ids = lambda ps: {id(p) for p in ps}  # noqa: E731
    assert ids(groups["decay"]["params"]) == ids([m.conv.weight, m.up.weight, m.fc.weight])
    assert ids(groups["no_decay"]["params"]) == ids([m.conv.bias, m.bn.weight, m.bn.bias, m.up.bias,
                                                     m.gn.weight, m.gn.bias, m.fc.bias, m.lsu])
    assert groups["decay"]["weight_decay"] == 1e-4 and groups["no_decay"]["weight_decay"] == 0.0


def test_decay_is_coupled_l2_not_adamw():
    # zero gradient: coupled L2 turns w*wd into the whole gradient, so Adam's first step moves a
    # decayed weight by lr (normalised step); AdamW would move it by lr*wd*w = 1e-3 only.
    m = nn.Linear(1, 1)
    with torch.no_grad():
        m.weight.fill_(1.0)
        m.bias.fill_(1.0)
    opt = build_optimizer(m, lr=0.01, weight_decay=0.1)
    m.weight.grad, m.bias.grad = torch.zeros_like(m.weight), torch.zeros_like(m.bias)
    opt.step()
    assert m.weight.item() == pytest.approx(0.99, abs=1e-6)
    assert m.bias.item() == 1.0


def test_lr_decays_after_the_given_steps():
    cfg = TrainConfig(steps=6, batch_size=4, lr=0.1, lr_decay_steps=(3, 5), lr_decay_gamma=0.1,
                      log_every=1, **QUIET)
    result = train(build_tiny(0), TinyLoss(), TinyDataset(8), cfg)
    assert result.history["step"].tolist() == [1, 2, 3, 4, 5, 6]
    assert result.history["lr"].tolist() == pytest.approx([0.1, 0.1, 0.1, 0.01, 0.01, 0.001])


def _weights(seed: int, **cfg) -> dict[str, torch.Tensor]:
    config = TrainConfig(steps=5, batch_size=4, lr=1e-2, seed=seed, **QUIET, **cfg)
    return train(build_tiny(0, dropout=0.2), TinyLoss(), TinyDataset(12), config).model.state_dict()


def test_same_seed_same_weights_different_seed_differs():
    a, b, c = _weights(1), _weights(1), _weights(2)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_training_reduces_the_loss():
    cfg = TrainConfig(steps=60, batch_size=4, lr=3e-2, log_every=20, **QUIET)
    history = train(build_tiny(0), TinyLoss(), TinyDataset(16), cfg).history
    assert list(history.columns) == ["step", "lr", "total", "depth", "semantic", "images_per_s"]
    assert history["total"].iloc[-1] < 0.5 * history["total"].iloc[0]
    assert (history["images_per_s"] > 0).all()


class NaNAt(TinyLoss):
    """TinyLoss whose depth term is NaN from call ``at`` (1-based) on."""

    def __init__(self, at: int):
        super().__init__()
        self.at, self.calls = at, 0

    def forward(self, outputs, batch):
        self.calls += 1
        out = super().forward(outputs, batch)
        if self.calls >= self.at:
            out["depth"] = out["depth"] * float("nan")
            out["total"] = out["total"] + out["depth"]
        return out


def test_nan_loss_raises_naming_step_and_writes_no_nan_checkpoint(tmp_path):
    cfg = TrainConfig(steps=6, batch_size=4, checkpoint_every=1, checkpoint_dir=str(tmp_path),
                      log_every=4, **QUIET)
    with pytest.raises(FloatingPointError, match=r"step 3: total=nan, depth=nan, semantic=\d"):
        train(build_tiny(0), NaNAt(3), TinyDataset(8), cfg)
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["step"] == 2
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_nan_loss_inside_a_logging_window_names_its_step():
    cfg = TrainConfig(steps=8, batch_size=4, log_every=4, **QUIET)
    with pytest.raises(FloatingPointError, match="non-finite loss at step 6:"):
        train(build_tiny(0), NaNAt(6), TinyDataset(8), cfg)


def test_alternate_schedule_freezes_the_other_branch():
    model = build_tiny(0)
    snapshots = [{k: v.clone() for k, v in model.state_dict().items()}]
    cfg = TrainConfig(steps=2, batch_size=4, lr=1e-2, task_schedule="alternate", log_every=1, **QUIET)
    train(model, TinyLoss(), TinyDataset(8, drop="semantic"), cfg,
          semantic_set=TinyDataset(8, seed=1, drop="depth"),
          on_log=lambda row: snapshots.append({k: v.clone() for k, v in model.state_dict().items()}))
    start, after_depth, after_semantic = snapshots

    def same(a, b, prefix):
        return all(torch.equal(a[k], b[k]) for k in a if k.startswith(prefix))

    assert same(start, after_depth, "semantic_head") and not same(start, after_depth, "depth_head")
    assert same(after_depth, after_semantic, "depth_head")
    assert not same(after_depth, after_semantic, "semantic_head")
    assert not same(start, after_depth, "trunk") and not same(after_depth, after_semantic, "trunk")


def test_alternate_schedule_needs_semantic_set_and_branches():
    cfg = TrainConfig(steps=2, batch_size=4, task_schedule="alternate", **QUIET)
    with pytest.raises(ValueError, match="semantic_set"):
        train(build_tiny(0), TinyLoss(), TinyDataset(8), cfg)
    with pytest.raises(ValueError, match="branch_parameters"):
        train(nn.Conv2d(3, 1, 1), TinyLoss(), TinyDataset(8), cfg, semantic_set=TinyDataset(8))


@pytest.mark.parametrize("field, value, words", [
    ("task_schedule", "sequential", "task_schedule must be one of ('joint', 'alternate')"),
    ("amp", "bf16", "amp must be True, False or 'auto'"),
    ("device", "gpu", "device must be one of"),
    ("batch_size", 0, "batch_size must be an int >= 1"),
    ("lr_decay_steps", (5, 3), "lr_decay_steps must be strictly increasing"),
    ("checkpoint_every", 5, "checkpoint_dir is required"),
])
def test_config_rejects_bad_values(field, value, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        TrainConfig(steps=1, **{field: value})


def test_checkpoint_from_another_config_is_refused(tmp_path):
    cfg = TrainConfig(steps=2, batch_size=4, checkpoint_every=2, checkpoint_dir=str(tmp_path), **QUIET)
    train(build_tiny(0), TinyLoss(), TinyDataset(8), cfg)
    other = TrainConfig(steps=4, batch_size=4, lr=5e-4, checkpoint_every=2, checkpoint_dir=str(tmp_path), **QUIET)
    with pytest.raises(ValueError, match="lr: checkpoint 0.0001 vs now 0.0005"):
        train(build_tiny(0), TinyLoss(), TinyDataset(8), other)


def test_sampler_shards_partition_the_global_batch_and_resume_in_place():
    full = ShardedBatchSampler(10, 4, seed=3)
    assert full.batches_per_epoch == 2
    it = iter(full)
    first = [next(it) for _ in range(5)]
    for pos, batch in enumerate(first):
        assert batch == full.global_batch(pos)
        assert len(set(batch)) == 4
    assert len(set(first[0] + first[1])) == 8 and first[0] != first[2]   # no repeats within an epoch
    shards = [iter(ShardedBatchSampler(10, 4, seed=3, rank=r, world_size=2)) for r in range(2)]
    for batch in first:
        assert next(shards[0]) + next(shards[1]) == batch
    resumed = iter(ShardedBatchSampler(10, 4, seed=3, start=3))
    assert [next(resumed), next(resumed)] == first[3:5]


def test_sampler_needs_enough_samples():
    with pytest.raises(ValueError, match="fewer than TrainConfig.batch_size=8"):
        ShardedBatchSampler(5, 8, seed=0)


class MeanDepth(nn.Module):
    """depth = per-pixel channel mean * scale; semantic logits always favour class 1."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(2.0))

    def forward(self, image):
        depth = image.mean(dim=1, keepdim=True) * self.scale
        logits = torch.stack([torch.zeros_like(depth[:, 0]), torch.ones_like(depth[:, 0])], dim=1)
        return {"depth": depth + 1.0, "semantic": logits}


def test_predict_returns_outputs_in_dataset_order():
    data = TinyDataset(7)
    out = predict(MeanDepth(), data, batch_size=3, device="cpu", keys=("depth", "semantic"), progress=False)
    assert out["depth"].shape == (7, 1, 6, 8) and out["semantic"].shape == (7, 2, 6, 8)
    expected = data.images.mean(dim=1, keepdim=True) * 2.0 + 1.0
    assert torch.allclose(out["depth"], expected)
    with pytest.raises(KeyError, match="scene"):
        predict(MeanDepth(), data, device="cpu", keys=("scene",), progress=False)


def test_evaluate_depth_metrics_ranges_and_semantic():
    pytest.importorskip("depthstudy.metrics")
    data = TinyDataset(6)
    model = MeanDepth()
    result = evaluate(model, data, protocol="synthetic", depth_ranges=(None, (0, 2.5)), classes=2,
                      batch_size=4, device="cpu", progress=False)
    pred = data.images.mean(dim=1, keepdim=True) * 2.0 + 1.0
    gt = data.depth
    rel = ((pred - gt).abs() / gt).flatten(1)
    assert len(result.per_image) == len(data) * 2
    assert sorted(result.per_image["index"]) == sorted(list(range(6)) * 2)
    assert result.summary[None]["abs_rel"] == pytest.approx(rel.mean(dim=1).mean().item(), rel=1e-5)
    below = (gt < 2.5).flatten(1)
    expected = torch.stack([rel[i][below[i]].mean() for i in range(6)]).mean().item()
    assert result.summary[(0, 2.5)]["abs_rel"] == pytest.approx(expected, rel=1e-5)
    assert set(result.per_image["depth_range"]) == {"all", "0-2.5"}
    frac1 = (data.semantic == 1).double().mean().item()
    assert result.semantic["pixel_acc"] == pytest.approx(frac1)
    assert result.semantic["miou"] == pytest.approx(frac1 / 2)


class SemanticOnly(MeanDepth):
    """MeanDepth without its depth output (a single-task semantic network)."""

    def forward(self, image):
        return {"semantic": super().forward(image)["semantic"]}


def test_evaluate_a_model_without_depth_output():
    data = TinyDataset(5)
    result = evaluate(SemanticOnly(), data, classes=2, batch_size=2, device="cpu", progress=False)
    assert result.summary == {} and result.per_image.empty
    assert result.semantic["pixel_acc"] == pytest.approx((data.semantic == 1).double().mean().item())
    with pytest.raises(ValueError, match="no 'depth' output"):
        evaluate(SemanticOnly(), data, batch_size=2, device="cpu", progress=False)  # classes=None: nothing to score


def test_seed_everything_and_progress_switch(monkeypatch):
    seed_everything(5)
    a = torch.rand(3)
    seed_everything(5)
    assert torch.equal(a, torch.rand(3))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert not progress_enabled(True)
    monkeypatch.delenv("TQDM_DISABLE")
    assert progress_enabled(True) and not progress_enabled(False)


class StepRecorder(TinyLoss):
    """TinyLoss that records the warm-up steps the engine passes to set_step."""

    def __init__(self):
        super().__init__()
        self.steps: list[int] = []

    def set_step(self, step: int) -> None:
        self.steps.append(step)


def test_set_step_gets_iterations_done_including_after_resume(tmp_path):
    loss = StepRecorder()
    common = dict(batch_size=4, checkpoint_every=2, checkpoint_dir=str(tmp_path), **QUIET)
    train(build_tiny(0), loss, TinyDataset(8), TrainConfig(steps=2, **common))
    result = train(build_tiny(0), loss, TinyDataset(8), TrainConfig(steps=4, **common))
    assert loss.steps == [0, 1, 2, 3]
    assert result.resumed_from == 2 and result.steps_done == 4


def test_workers_amp_channels_last_and_clipping_paths():
    base = dict(steps=3, batch_size=4, lr=1e-2, log_every=1, **QUIET)
    plain = train(build_tiny(0), TinyLoss(), TinyDataset(8), TrainConfig(**base)).model.state_dict()
    workers = train(build_tiny(0), TinyLoss(), TinyDataset(8), TrainConfig(num_workers=1, **base))
    assert all(torch.equal(plain[k], v) for k, v in workers.model.state_dict().items())
    fancy = train(build_tiny(0), TinyLoss(), TinyDataset(8),
                  TrainConfig(amp=True, channels_last=True, grad_clip=0.5, **base))
    assert fancy.history["total"].notna().all() and len(fancy.history) == 3
    weights = fancy.model.state_dict()
    assert any(not torch.allclose(plain[k], weights[k]) for k in plain)   # bf16 + clip changed the run


def test_config_from_profile_takes_its_fields_and_overrides():
    from depthstudy.profiles import get_profile

    smoke = get_profile("smoke")
    cfg = TrainConfig.from_profile(smoke, seed=3, lr=2e-3)
    assert (cfg.steps, cfg.batch_size, cfg.lr, cfg.seed) == (smoke.steps, smoke.batch_size, 2e-3, 3)
    with pytest.raises(ValueError, match="unknown TrainConfig field"):
        TrainConfig.from_profile(get_profile("smoke"), stepz=3)
