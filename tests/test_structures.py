"""Structure-study networks (Jiao et al. suppl. section 2): kinds, splits, parameter identities."""

import pytest
import torch

from depthstudy.models import build
from depthstudy.models.structures import TaskLayer

W, C = 8, 4          # task-layer width and classes used in these tests
STEM_OUT = 128       # ResNet-18 at width 0.25: c5 = 512 * 0.25


def n_params(params) -> int:
    return sum(p.numel() for p in params)


def layer(cin: int) -> int:
    """3x3 conv without bias + BN."""
    return 9 * cin * W + 2 * W


def head(out: int) -> int:
    return W * out + out


def stem_params(model) -> int:
    stems = [m for m in model.modules() if type(m).__name__ == "Stem"]
    return n_params(stems[0].parameters())


def expected_outputs(kind: str) -> set[str]:
    return {"single_depth": {"depth"}, "single_semantic": {"semantic"},
            "finetune": {"depth"}}.get(kind, {"depth", "semantic"})


CASES = [("single_depth", None), ("single_semantic", None), ("finetune", None),
         ("cascade_ds", None), ("cascade_sd", None), ("merge", None), ("merge", 3),
         ("branch", 1), ("branch", 5)]


@pytest.mark.parametrize("kind,split", CASES)
def test_kinds_build_run_backward(kind, split):
    torch.manual_seed(0)
    model = build("structure", kind=kind, split=split, classes=C, width=W)
    for size in [(64, 96), (60, 76)]:
        out = model(torch.rand(2, 3, *size))
        assert set(out) == expected_outputs(kind)
        if "depth" in out:
            assert out["depth"].shape == (2, 1, *size)
        if "semantic" in out:
            assert out["semantic"].shape == (2, C, *size)
    sum(v.mean() for v in out.values()).backward()
    idle = {id(p) for p in model.heads["semantic"].parameters()} if kind == "finetune" else set()
    assert all((p.grad is None) == (id(p) in idle) for p in model.parameters())


@pytest.mark.parametrize("split", [1, 2, 3, 4, 5])
def test_branch_split_counts(split):
    model = build("structure", kind="branch", split=split, classes=C, width=W)
    assert len(model.shared) == split
    assert all(isinstance(m, TaskLayer) for m in model.shared)
    for task in ("depth", "semantic"):
        assert len(model.own[task]) == 5 - split
    n_layers = sum(isinstance(m, TaskLayer) for m in model.modules())
    assert n_layers == split + 2 * (5 - split)
    expected = stem_params(model) + layer(STEM_OUT) + (split - 1) * layer(W) \
        + 2 * (5 - split) * layer(W) + head(1) + head(C)
    assert n_params(model.parameters()) == expected
    dep = {id(p) for p in model.branch_parameters("depth")}
    sem = {id(p) for p in model.branch_parameters("semantic")}
    shared = {id(p) for p in model.stem.parameters()} | {id(p) for p in model.shared.parameters()}
    assert not dep & sem and not (dep | sem) & shared
    assert dep | sem | shared == {id(p) for p in model.parameters()}
    assert n_params(model.branch_parameters("depth")) == (5 - split) * layer(W) + head(1)


def test_single_task_param_count():
    depth = build("structure", kind="single_depth", classes=C, width=W)
    sem = build("structure", kind="single_semantic", classes=C, width=W)
    body = stem_params(depth) + layer(STEM_OUT) + 4 * layer(W)
    assert n_params(depth.parameters()) == body + head(1)
    assert n_params(sem.parameters()) == body + head(C)
    assert n_params(depth.branch_parameters("depth")) == body + head(1)
    with pytest.raises(ValueError, match="task"):
        depth.branch_parameters("semantic")


def test_merge_structure():
    for m in (1, 4):
        model = build("structure", kind="merge", split=m, classes=C, width=W)
        assert len(model.shared) == m and model.shared[0].conv.in_channels == 2 * W
        assert len(model.own["depth"]) == 5 - m
        expected = 2 * stem_params(model) + 2 * (layer(STEM_OUT) + (4 - m) * layer(W)) \
            + layer(2 * W) + (m - 1) * layer(W) + head(1) + head(C)
        assert n_params(model.parameters()) == expected
        dep = {id(p) for p in model.branch_parameters("depth")}
        sem = {id(p) for p in model.branch_parameters("semantic")}
        assert not dep & sem and not (dep | sem) & {id(p) for p in model.shared.parameters()}
        assert {id(p) for p in model.stems["depth"].parameters()} <= dep


def test_cascade_adapter_and_coupling():
    torch.manual_seed(0)
    ds = build("structure", kind="cascade_ds", classes=C, width=W).eval()
    sd = build("structure", kind="cascade_sd", classes=C, width=W)
    single = build("structure", kind="single_depth", classes=C, width=W)
    adapter = 4 * 3 + 3
    assert n_params(sd.parameters()) == 2 * stem_params(single) + 2 * (
        layer(STEM_OUT) + 4 * layer(W)) + head(1) + head(C) + (3 + C) * 3 + 3
    assert n_params(ds.nets["semantic"].parameters()) - n_params(ds.nets["depth"].parameters()) \
        == adapter + head(C) - head(1)
    x = torch.rand(1, 3, 60, 76)
    with torch.no_grad():
        base = ds(x)
        # the adapter starts as an RGB pass-through: the depth cue has no effect at init
        ds.nets["depth"].head.bias.add_(3.0)
        moved = ds(x)
        assert torch.allclose(moved["depth"], base["depth"] + 3.0)
        assert torch.allclose(moved["semantic"], base["semantic"])
        ds.nets["semantic"].stem.adapter.weight[:, 3] = 0.5
        assert not torch.allclose(ds(x)["semantic"], base["semantic"])
    # semantic loss back-propagates into the first (depth) network
    ds.zero_grad()
    ds(x)["semantic"].sum().backward()
    assert ds.nets["depth"].head.weight.grad.abs().sum() > 0


def test_finetune_stages():
    model = build("structure", kind="finetune", classes=C, width=W, stage="semantic")
    x = torch.rand(1, 3, 64, 96)
    assert set(model(x)) == {"semantic"} and model(x)["semantic"].shape == (1, C, 64, 96)
    model.set_stage("depth")
    assert set(model(x)) == {"depth"}
    assert n_params(model.branch_parameters("semantic")) == head(C)
    assert n_params(model.parameters()) == stem_params(model) + layer(STEM_OUT) + 4 * layer(W) \
        + head(1) + head(C)
    with pytest.raises(ValueError, match="stage"):
        model.set_stage("normals")


def test_bad_options():
    with pytest.raises(ValueError, match="kind"):
        build("structure", kind="tree")
    with pytest.raises(ValueError, match="needs split"):
        build("structure", kind="branch")
    with pytest.raises(ValueError, match="split"):
        build("structure", kind="branch", split=6)
    with pytest.raises(ValueError, match="split"):
        build("structure", kind="merge", split=5)
    with pytest.raises(ValueError, match="split"):
        build("structure", kind="single_depth", split=2)
    with pytest.raises(ValueError, match="stage"):
        build("structure", kind="branch", split=2, stage="depth")
    with pytest.raises(ValueError, match="stem"):
        build("structure", kind="single_depth", stem="vgg16")


def test_depth_prediction_convs_start_at_the_indoor_depth_scale():
    """Decision J18: every depth head of the structure networks and FCRN starts at 2.5 m; semantic heads at 0."""
    from depthstudy.models.fcrn import DEPTH_BIAS_M

    net = build("structure", kind="merge", classes=4, width=8)
    assert torch.all(net.heads["depth"].bias == DEPTH_BIAS_M) and DEPTH_BIAS_M == 2.5
    assert not torch.any(net.heads["semantic"].bias == DEPTH_BIAS_M)
    single = build("structure", kind="single_depth", width=8)
    assert torch.all(single.net.head.bias == DEPTH_BIAS_M)
    with torch.no_grad():
        out = single.eval()(torch.rand(1, 3, 32, 32))["depth"]
    assert abs(float(out.mean()) - DEPTH_BIAS_M) < 2.0  # the untrained net already predicts metres near 2.5
    fcrn = build("fcrn", backbone_depth=18, backbone_width=0.25)
    assert torch.all(fcrn.pred.bias == DEPTH_BIAS_M)


def test_merge_starts_from_the_single_task_networks():
    """Decision J19: the merge-in sub-networks are copies of the single-task networks; shared layers fresh."""
    from depthstudy.models.structures import TASKS

    torch.manual_seed(0)
    singles = {t: build("structure", kind=f"single_{t}", classes=4, width=8) for t in TASKS}
    merge = build("structure", kind="merge", classes=4, width=8)
    shared_before = {k: v.clone() for k, v in merge.shared.state_dict().items()}
    merge.load_sub_networks(singles)
    for t in TASKS:
        assert torch.equal(merge.stems[t].trunk.conv1.weight, singles[t].net.stem.trunk.conv1.weight)
        assert torch.equal(merge.heads[t].weight, singles[t].net.head.weight)
        for own, src in zip(merge.own[t], singles[t].net.layers):
            assert torch.equal(own.conv.weight, src.conv.weight)
    assert all(torch.equal(v, shared_before[k]) for k, v in merge.shared.state_dict().items())
    with pytest.raises(ValueError, match="nets\\['depth'\\] must be a single_depth"):
        merge.load_sub_networks({"depth": singles["semantic"], "semantic": singles["semantic"]})
    wide = build("structure", kind="single_depth", classes=4, width=16)
    with pytest.raises(ValueError, match="depth network's .* does not fit"):
        merge.load_sub_networks({"depth": wide, "semantic": singles["semantic"]})
