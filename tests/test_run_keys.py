"""Run keys cover exactly what a run's weights depend on; a file lock shares a run between processes."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from depthstudy import experiment
from depthstudy.profiles import get_profile
from depthstudy.studies import cliffnet as cf

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def profile(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPTHSTUDY_CACHE", str(tmp_path / "cache"))
    return get_profile("smoke")


def heg_key(profile, kind="heg_s"):
    return experiment.run_key(profile, cf.heg_variant(profile, kind, 8), 0)


def test_cliffnet_steps_do_not_retrain_the_hegs(profile):
    longer = profile.replace(steps=profile.steps * 3)
    for kind in cf.HEG_KINDS:
        assert heg_key(profile, kind) == heg_key(longer, kind)
    # ... but they do change the CLIFFNet runs, and heg_steps changes the HEGs
    l1 = cf.loss_variants(profile, 8)["l1"]
    assert experiment.run_key(profile, l1, 0) != experiment.run_key(longer, l1, 0)
    assert heg_key(profile) != heg_key(profile.replace(heg_steps=profile.heg_steps + 1))


def test_fields_that_do_not_reach_the_weights_keep_the_key(profile):
    l1 = cf.loss_variants(profile, 8)["l1"]
    same = profile.replace(seeds=(0, 1, 2), protocol="eigen", eval_batch_size=3, test_scenes=9,
                           description="other")
    assert experiment.run_key(profile, l1, 0) == experiment.run_key(same, l1, 0)
    for change in ({"lr": 2e-3}, {"train_scenes": 9}, {"height": 32}, {"backbone_width": 0.5},
                   {"batch_size": 2}, {"lr_decay_at": (0.5,)}):
        assert experiment.run_key(profile.replace(**change), l1, 0) != experiment.run_key(profile, l1, 0), change
    assert experiment.run_key(profile, l1, 1) != experiment.run_key(profile, l1, 0)


def test_upstream_run_keys_enter_the_key(profile):
    variant = cf.loss_variants(profile, 8)["heg_s"]
    heg = torch.nn.Linear(1, 1)
    with pytest.raises(ValueError, match="run_key"):
        experiment.run_key(profile, variant, 0, {"heg": heg})
    heg.run_key = "heg_training/heg_s/seed0-aaaa"
    first = experiment.run_key(profile, variant, 0, {"heg": heg})
    heg.run_key = "heg_training/heg_s/seed0-bbbb"
    assert experiment.run_key(profile, variant, 0, {"heg": heg}) != first


def digest_with_edit(relative: str, tmp_path: Path) -> tuple[str, str]:
    """code_digest of a copy of the package, before and after appending a comment to one file."""
    package = tmp_path / "pkg" / "depthstudy"
    package.parent.mkdir()
    subprocess.run(["cp", "-r", str(ROOT / "depthstudy"), str(package.parent)], check=True)
    script = "from depthstudy import experiment; print(experiment.code_digest())"
    env = {"PYTHONPATH": str(package.parent), "PATH": "/usr/bin:/bin"}

    def digest():
        return subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True,
                              text=True, check=True).stdout.strip()

    before = digest()
    with open(package / relative, "a") as f:
        f.write("\n# edited\n")
    return before, digest()


@pytest.mark.parametrize("relative", ["studies/cliffnet.py", "engine/loop.py"])
def test_editing_training_code_changes_the_key(relative, tmp_path):
    before, after = digest_with_edit(relative, tmp_path)
    assert before != after


def test_editing_report_code_keeps_the_key(tmp_path):
    before, after = digest_with_edit("report.py", tmp_path)
    assert before == after


WORKER = textwrap.dedent("""
    import json, sys, torch
    from depthstudy import experiment
    from depthstudy.profiles import get_profile

    class Tiny(torch.utils.data.Dataset):
        def __len__(self):
            return 8
        def __getitem__(self, i):
            g = torch.Generator().manual_seed(i)
            img = torch.rand(3, 16, 16, generator=g)
            return {"image": img, "depth": 1 + img.mean(0, keepdim=True), "index": i}

    profile = get_profile("smoke", steps=40, batch_size=2)
    variant = experiment.Variant("tiny", "encdec", {"base": 8, "depth": 2})
    result = experiment.train_run(profile, "lock_test", variant, 0, Tiny())
    print(json.dumps({"resumed_from": result.resumed_from, "steps": result.steps_done}))
""")


def test_a_second_process_waits_for_and_reuses_the_run(tmp_path):
    env = {"PYTHONPATH": str(ROOT), "DEPTHSTUDY_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1",
           "TQDM_DISABLE": "1", "PATH": "/usr/bin:/bin"}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    # exactly one process trained from scratch; the other found the finished run (resumed at 40)
    assert sorted(str(o["resumed_from"]) for o in outs) == ["40", "None"]
    assert all(o["steps"] == 40 for o in outs)
