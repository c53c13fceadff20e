"""NYUv2Labeled on fixture files written in the real v7.3 layout (never the real 2.8 GB file)."""

from __future__ import annotations

import pickle
import shutil

import h5py
import numpy as np
import pytest
import scipy.io
import torch
from torch.utils.data import DataLoader

from depthstudy.data.classes import IGNORE_INDEX, MAP_40_TO_4, MAP_40_TO_13
from depthstudy.data.nyu_fixture import (
    fixture_class_table,
    write_fixture_root,
    write_labeled_fixture,
    write_splits_fixture,
)
from depthstudy.data.nyuv2 import NYU_INTRINSICS, RAW_IGNORE_INDEX, NYUv2Labeled, nyu_scene_name, scale_intrinsics
from depthstudy.data.sample import check_sample
from depthstudy.io import sha256_file

N, H, W = 7, 12, 16  # N is not 1449 and H != W, so a missed transpose changes the shape


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    root = tmp_path_factory.mktemp("nyu")
    return write_fixture_root(root, n_images=N, height=H, width=W, seed=3)


def expected_semantic(labels: np.ndarray, classes: int) -> np.ndarray:
    """Independent hand computation of the label mapping (raw -> 40 -> 13/4, 0-based)."""
    _, map_class = fixture_class_table()
    lab = labels.astype(np.int64)
    if classes == 894:
        return np.where(lab == 0, -1, lab - 1)
    out = np.full(lab.shape, 255, dtype=np.int64)
    valid = lab > 0
    c40 = map_class.astype(np.int64)[lab[valid] - 1]
    table = {40: c40, 13: MAP_40_TO_13[c40 - 1], 4: MAP_40_TO_4[c40 - 1]}
    out[valid] = table[classes] - 1
    return out


def test_fixture_file_has_real_layout(fx):
    path = fx["root"] / "nyu_depth_v2_labeled.mat"
    assert path.read_bytes()[:19] == b"MATLAB 7.3 MAT-file"
    with h5py.File(path, "r") as f:
        assert f.userblock_size == 512
        assert f["images"].shape == (N, 3, W, H) and f["images"].dtype == np.uint8
        assert f["depths"].shape == (N, W, H) and f["labels"].dtype == np.uint16
        assert f["accelData"].shape == (4, N) and f["names"].shape == (1, 894)
        assert f["scenes"].attrs["MATLAB_class"] == b"cell"
        target = f[f["scenes"][0, 0]]
        assert target.shape == (len("kitchen_0001a"), 1) and target.dtype == np.uint16
        assert target.attrs["MATLAB_class"] == b"char" and int(target.attrs["MATLAB_int_decode"]) == 2
    splits = scipy.io.loadmat(fx["root"] / "splits.mat")
    assert splits["testNdxs"].dtype == np.uint16 and splits["testNdxs"].shape == (4, 1)
    assert splits["testNdxs"].ravel().tolist() == [1, 2, 5, 6]


@pytest.mark.parametrize("split", ["train", "test", "all"])
@pytest.mark.parametrize("classes", [40, 13, 4, 894])
def test_round_trip(fx, split, classes):
    ds = NYUv2Labeled(fx["root"], split=split, classes=classes)
    want = {"train": [2, 3, 6], "test": [0, 1, 4, 5], "all": list(range(N))}[split]
    assert ds.indices.tolist() == want and len(ds) == len(want)
    for i, k in enumerate(want):
        s = ds[i]
        check_sample(s)
        assert s["index"] == k
        np.testing.assert_allclose(s["image"].numpy(), fx["images"][k].transpose(2, 0, 1) / 255.0, atol=1e-6)
        np.testing.assert_array_equal(s["depth"][0].numpy(), fx["depths"][k])
        np.testing.assert_array_equal(s["raw_depth"][0].numpy(), fx["raw_depths"][k])
        np.testing.assert_array_equal(s["semantic"].numpy(), expected_semantic(fx["labels"][k], classes))
        assert s["scene_type"] == fx["scene_types"][k]


def test_orientation_is_transpose_not_rotation(fx):
    s = NYUv2Labeled(fx["root"], split="all", classes=40)[0]
    bh, bw = fx["block"]
    image = s["image"].numpy()
    assert image.shape == (3, H, W)
    assert np.all(image[:, :bh, :bw] == 1.0)                    # white block top-left
    assert image[:, bh:, :].max() < 1.0 and image[:, :, bw:].max() < 1.0  # and nowhere else
    depth = s["depth"][0].numpy()
    assert np.all(np.diff(depth, axis=1) > 0)                    # ramp increases along width
    assert np.all(np.diff(depth, axis=0) == 0)                   # constant down the columns
    assert depth[0, 0] == pytest.approx(1.0) and depth[0, -1] == pytest.approx(4.0)
    bed = 3  # NYU-40 "bed" (1-based 4) as a 0-based id
    assert np.all(s["semantic"].numpy()[:bh, :bw] == bed)


def test_raw_depth_is_raw_variable(fx):
    s = NYUv2Labeled(fx["root"], split="all", classes=40)[2]
    raw, depth = s["raw_depth"][0].numpy(), s["depth"][0].numpy()
    holes = raw == 0
    assert holes.any() and not (depth == 0).any()
    np.testing.assert_allclose(raw[~holes], depth[~holes] + 0.01, atol=1e-5)


def test_894_to_40_to_4_through_mapping_file(fx):
    mat = scipy.io.loadmat(fx["root"] / "classMapping40.mat")
    map_class = mat["mapClass"].ravel().astype(int)
    to4 = mat["mapToNYUSuperClass"].ravel().astype(int)
    assert np.bincount(map_class, minlength=41)[1:].tolist() == [1] * 37 + [68, 82, 707]
    labels = fx["labels"][4]
    ds4 = NYUv2Labeled(fx["root"], split="all", classes=4)
    got = ds4[4]["semantic"].numpy()
    lab = labels.astype(int)
    composed = np.where(lab > 0, to4[map_class[np.maximum(lab, 1) - 1] - 1] - 1, 255)
    np.testing.assert_array_equal(got, composed)
    assert set(np.unique(got)) <= {0, 1, 2, 3, 255}
    # a raw label by hand: the top-left block is the fixture's "bed" name -> 40-class 4 -> structure 3
    assert map_class[int(fx["bed_label"]) - 1] == 4 and got[0, 0] == 2


def test_unlabeled_pixels(fx):
    for classes in (40, 13, 4):
        sem = NYUv2Labeled(fx["root"], split="all", classes=classes)[1]["semantic"].numpy()
        assert np.all(sem[-1, :] == IGNORE_INDEX) and np.all(sem[:-1, :] != IGNORE_INDEX)
    ds = NYUv2Labeled(fx["root"], split="all", classes=894)
    sem = ds[1]["semantic"].numpy()
    assert ds.ignore_index == RAW_IGNORE_INDEX == -1
    assert np.all(sem[-1, :] == -1)
    assert sem[0, -1] == 255  # raw label 256 is class 255, not "unlabeled"
    assert len(ds.class_names) == 894 and ds.class_names == tuple(fx["names"])


def test_scene_names_and_ids(fx):
    assert nyu_scene_name("kitchen_0028b") == "kitchen_0028"
    assert nyu_scene_name("living_room_0003") == "living_room_0003"
    assert nyu_scene_name("bathroom") == "bathroom"
    ds = NYUv2Labeled(fx["root"], split="all", classes=40)
    # raw: kitchen_0001a/b, bedroom_0002 x2, living_room_0003a/b, office_0004
    assert ds.scene_names == ["bedroom_0002", "kitchen_0001", "living_room_0003", "office_0004"]
    assert ds.num_scenes == 4
    assert ds.scene_types == ["bedroom", "kitchen", "living_room", "office"]
    got = [(ds[i]["scene"], ds[i]["scene_name"]) for i in range(N)]
    assert got == [(1, "kitchen_0001"), (1, "kitchen_0001"), (0, "bedroom_0002"), (0, "bedroom_0002"),
                   (2, "living_room_0003"), (2, "living_room_0003"), (3, "office_0004")]
    # ids come from the whole file, so a split sees the same ids
    test = NYUv2Labeled(fx["root"], split="test", classes=40)
    assert [test[i]["scene"] for i in range(len(test))] == [1, 1, 2, 2]


def test_split_indices_are_one_based(fx, tmp_path):
    root = tmp_path / "nyu"
    shutil.copytree(fx["root"], root)
    write_splits_fixture(root / "splits.mat", train=[3], test=[1, N])
    ds = NYUv2Labeled(root, split="test", classes=40)
    assert ds.indices.tolist() == [0, N - 1]
    np.testing.assert_array_equal(ds[1]["depth"][0].numpy(), fx["depths"][N - 1])
    assert ds[-1]["index"] == N - 1
    with pytest.raises(IndexError):
        ds[2]
    for bad in ([N + 1], [0]):
        write_splits_fixture(root / "splits.mat", train=[3], test=bad)
        with pytest.raises(ValueError, match=rf"testNdxs.*1\.\.{N}"):
            NYUv2Labeled(root, split="test", classes=40)


def test_other_image_counts(tmp_path):
    content = write_fixture_root(tmp_path, n_images=3, height=6, width=10, seed=1)
    ds = NYUv2Labeled(tmp_path, split="all", classes=13)
    assert ds.num_images == len(ds) == 3 and (ds.height, ds.width) == (6, 10)
    assert ds[2]["image"].shape == (3, 6, 10)
    assert NYUv2Labeled(tmp_path, split="train").indices.tolist() == (content["train"] - 1).tolist() == [2]


def test_intrinsics():
    assert scale_intrinsics(NYU_INTRINSICS, (480, 640), (480, 640)) == NYU_INTRINSICS
    fx_, fy_, cx_, cy_ = scale_intrinsics(NYU_INTRINSICS, (480, 640), (240, 320))
    assert (fx_, fy_, cx_, cy_) == pytest.approx((259.42895, 259.7348, 162.7912, 126.8681))


def test_missing_files_are_named(fx, tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        NYUv2Labeled(tmp_path, split="all")
    msg = str(err.value)
    assert "nyu_depth_v2_labeled.mat" in msg and "data_manifests/nyuv2.yaml" in msg
    assert "http://horatio.cs.nyu.edu/mit/silberman/nyu_depth_v2/nyu_depth_v2_labeled.mat" in msg
    shutil.copy(fx["root"] / "nyu_depth_v2_labeled.mat", tmp_path)
    assert len(NYUv2Labeled(tmp_path, split="all", classes=894)) == N  # needs no other file
    with pytest.raises(FileNotFoundError, match=r"splits\.mat.*indoor_seg_sup/splits\.mat"):
        NYUv2Labeled(tmp_path, split="train", classes=894)
    with pytest.raises(FileNotFoundError, match=r"classMapping40\.mat"):
        NYUv2Labeled(tmp_path, split="all", classes=40)


def test_wrong_shapes_are_named(tmp_path):
    write_fixture_root(tmp_path, n_images=4, height=6, width=8)
    path = tmp_path / "nyu_depth_v2_labeled.mat"
    with h5py.File(path, "r+") as f:
        del f["depths"]
        f.create_dataset("depths", data=np.zeros((4, 6, 8), dtype=np.float32))  # MATLAB order by mistake
    with pytest.raises(ValueError, match=r"'depths'.*\(4, 6, 8\).*expected \(4, 8, 6\)"):
        NYUv2Labeled(tmp_path, split="all")
    with h5py.File(path, "r+") as f:
        del f["depths"], f["images"]
        f.create_dataset("images", data=np.zeros((4, 8, 6, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"'images'.*expected \(N, 3, W, H\)"):
        NYUv2Labeled(tmp_path, split="all")
    scipy.io.savemat(tmp_path / "classMapping40.mat", {"mapClass": np.ones((1, 40), np.uint8)})
    write_labeled_fixture(path, n_images=4, height=6, width=8)
    with pytest.raises(ValueError, match=r"'mapClass'.*\(1, 40\).*expected \(1, 894\)"):
        NYUv2Labeled(tmp_path, split="all", classes=40)
    scipy.io.savemat(tmp_path / "splits.mat", {"trainNdxs": np.array([[1], [2]], np.uint16)})
    with pytest.raises(ValueError, match=r"'testNdxs' is missing"):
        NYUv2Labeled(tmp_path, split="test", classes=894)


def test_nothing_on_disk_is_modified(fx):
    files = sorted(fx["root"].iterdir())
    before = {p.name: (sha256_file(p), p.stat().st_mtime_ns) for p in files}
    ds = NYUv2Labeled(fx["root"], split="all", classes=4)
    [ds[i] for i in range(len(ds))]
    ds.close()
    assert {p.name: (sha256_file(p), p.stat().st_mtime_ns) for p in sorted(fx["root"].iterdir())} == before


def test_dataloader_workers_and_pickle(fx):
    ds = NYUv2Labeled(fx["root"], split="all", classes=40)
    direct = ds[5]["depth"]  # opens the file in this process before the workers fork
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._h5 is None and torch.equal(clone[5]["depth"], direct)
    loader = DataLoader(ds, batch_size=3, num_workers=2, multiprocessing_context="fork")
    batches = list(loader)
    assert [b["index"].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    assert torch.equal(batches[1]["depth"][2], direct)


def test_bad_arguments(fx):
    with pytest.raises(ValueError, match="split='val'"):
        NYUv2Labeled(fx["root"], split="val")
    with pytest.raises(ValueError, match="classes=37"):
        NYUv2Labeled(fx["root"], classes=37)


def test_transform_is_applied(fx):
    def halve(sample):
        sample["depth"] = sample["depth"] / 2
        return sample

    s = NYUv2Labeled(fx["root"], split="all", transform=halve)[0]
    np.testing.assert_allclose(s["depth"][0].numpy(), fx["depths"][0] / 2)


def test_missing_file_without_manifests(tmp_path, monkeypatch):
    monkeypatch.setattr("depthstudy.data.manifest.manifests_dir", lambda: tmp_path / "none")
    with pytest.raises(FileNotFoundError, match=r"nyu_depth_v2_labeled\.mat.*cs\.nyu\.edu/~silberman/datasets"):
        NYUv2Labeled(tmp_path, split="all")
