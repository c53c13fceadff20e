"""Real-size dry runs of the gpu and nyu profiles on the CPU (Decision D11).

One run of each model family (Jiao: the synergy network with the full attention loss, on nyu;
CLIFFNet: the CLIFF network with L1, on gpu and on nyu; see :data:`CASES`) trains 2 steps at the
profile's true input size, backbone, widths and batch size, then evaluates under the profile's
protocol, through :func:`depthstudy.experiment.run_variant` and the dataset factory as the study
notebooks call them. Only the data volume (scene counts, images), the step count and ``compile``
(a CPU compile of ResNet-50 takes minutes; the GPU check covers it) are reduced. The three cases
take about 4 min on an idle 2-core machine; hence the ``slow`` marker.
"""

from __future__ import annotations

import math

import pytest

from depthstudy import experiment
from depthstudy.data.factory import build_dataset
from depthstudy.data.nyu_fixture import write_fixture_root
from depthstudy.profiles import get_profile
from depthstudy.studies import cliffnet as cf
from depthstudy.studies import jiao

pytestmark = pytest.mark.slow

DRY = {"steps": 2, "device": "cpu", "compile": False, "seeds": (0,)}
FAMILIES = {
    "jiao": (jiao.ATTENTION_STUDY, lambda: jiao.attention_variants()["synergy_da_semf_jg"]),
    "cliffnet": (cf.LOSS_STUDY, lambda: cf.loss_variants(get_profile("nyu"), scene_classes=2)["l1"]),
}


@pytest.fixture(scope="module")
def profiles(tmp_path_factory):
    """gpu: SynthRooms at 228x304 with 8 training and 8 test views; nyu: a real-layout labeled
    fixture at 480x640 with 16 images (8 train, 8 test), no sync folder (the labeled fallback)."""
    root = tmp_path_factory.mktemp("nyu-dry")
    write_fixture_root(root, n_images=16, height=480, width=640)
    gpu = get_profile("gpu", train_scenes=1, test_scenes=1, views_per_scene=8, **DRY)
    nyu = get_profile("nyu", nyu_root=str(root), nyu_sync_root="", eval_batch_size=8, **DRY)
    return {"gpu": gpu, "nyu": nyu}


#: Each model family once at the true sizes and each profile's data path once. The gpu and nyu
#: profiles size the models identically (228x304, ResNet-50, batch 8), so synergy on gpu would
#: repeat nyu-jiao's model path and gpu-cliffnet's data path; it cost 124 s of the 372 s the four
#: cases took on the idle 2-core machine (nyu-jiao 149 s, gpu-jiao 124 s, nyu-cliffnet 52 s,
#: gpu-cliffnet 47 s).
CASES = [("nyu", "jiao"), ("gpu", "cliffnet"), ("nyu", "cliffnet")]


@pytest.mark.parametrize("name, family", CASES)
def test_real_size_dry_run(profiles, name, family):
    prof = profiles[name]
    study, make_variant = FAMILIES[family]
    variant = make_variant()
    train_set = build_dataset(prof, "train", classes=variant.classes or 40, family=family)
    test_set = build_dataset(prof, "test", classes=variant.classes or 40)
    assert train_set[0]["image"].shape[-2:] == (prof.height, prof.width)
    outcome = experiment.run_variant(prof, variant, 0, train_set, test_set, study=f"dry_{study}")
    assert outcome.history["step"].max() == prof.steps
    scores = outcome.evaluation.summary[None]
    assert scores["n_images"] == len(test_set) and math.isfinite(scores["rmse"])
    if family == "jiao":
        assert 0.0 <= outcome.evaluation.semantic["miou"] <= 1.0
    n_valid = set(outcome.evaluation.per_image["n_valid"])
    if name == "nyu":  # depth scored at 480x640 inside the Eigen crop (the fixture has no holes)
        assert n_valid == {440 * 592}
    else:  # SynthRooms: at the network size
        assert max(n_valid) <= prof.height * prof.width
