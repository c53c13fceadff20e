"""NYUv2Sync on a BTS-layout fixture (sync training folders and the official test layout)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from depthstudy.data.bts import NYUv2Sync, read_filelist, scene_from_folder, write_sync_fixture
from depthstudy.data.sample import check_sample

H, W = 12, 16


@pytest.fixture(scope="module")
def sync(tmp_path_factory):
    root = tmp_path_factory.mktemp("sync")
    return root, write_sync_fixture(root, n_scenes=3, frames=2, height=H, width=W, seed=2)


def test_sync_samples(sync):
    root, fx = sync
    ds = NYUv2Sync(root, fx["list"])
    assert len(ds) == 6 and ds.focal == [518.8579] * 6
    for i in range(len(ds)):
        s = ds[i]
        check_sample(s)
        assert s["index"] == i
        want = fx["depth_mm"][i].astype(np.float32) / 1000
        want[2, 2] = 0.0  # 12 m > max_depth: invalid
        np.testing.assert_allclose(s["depth"][0].numpy(), want, rtol=0, atol=1e-6)
        assert s["depth"][0, 1, 1] == 0 and s["depth"][0, 0, 0] == pytest.approx(1.0)
        assert s["depth"][0, 0, -1] == pytest.approx(4.0)
        assert np.all(np.diff(s["depth"][0, 5].numpy()) > 0)  # ramp increases along width
        assert s["raw_depth"].equal(s["depth"])
        assert np.all(s["semantic"].numpy() == 255)
        img = s["image"].numpy()
        assert np.abs(img - fx["images"][i].transpose(2, 0, 1) / 255).max() < 0.06  # JPEG is lossy
        assert img[:, :2, :3].min() > 0.9 and img[:, -3:, -3:].max() < 0.6  # bright block top-left only


def test_sync_scenes(sync):
    root, fx = sync
    ds = NYUv2Sync(root, fx["list"])
    assert fx["folders"] == ["kitchen_0001a", "kitchen_0001b", "bedroom_0002a"]
    assert ds.scene_names == ["bedroom_0002", "kitchen_0001"] and ds.num_scenes == 2
    assert ds.scene_types == ["bedroom", "kitchen"]
    got = [(ds[i]["scene"], ds[i]["scene_name"], ds[i]["scene_type"]) for i in (0, 3, 5)]
    assert got == [(1, "kitchen_0001", "kitchen"), (1, "kitchen_0001", "kitchen"), (0, "bedroom_0002", "bedroom")]


def test_official_test_layout(tmp_path):
    fx = write_sync_fixture(tmp_path, n_scenes=3, frames=1, height=H, width=W, layout="test", list_name="test.txt")
    assert fx["lines"][2].startswith("living_room/rgb_")
    ds = NYUv2Sync(tmp_path, fx["list"], max_depth=3.0)
    s = ds[2]
    check_sample(s)
    assert (s["scene_name"], s["scene_type"]) == ("living_room", "living_room")
    depth = s["depth"][0].numpy()
    assert depth.max() <= 3.0 and depth[0, -1] == 0  # 4 m > max_depth=3
    assert depth[0, 0] == pytest.approx(1.0)


def test_scene_from_folder():
    assert scene_from_folder("kitchen_0028b") == ("kitchen_0028", "kitchen")
    assert scene_from_folder("living_room_0038") == ("living_room_0038", "living_room")
    assert scene_from_folder("bathroom") == ("bathroom", "bathroom")


def test_read_filelist(tmp_path):
    lst = tmp_path / "l.txt"
    lst.write_text("/a_0001b/rgb_00001.jpg /a_0001b/sync_depth_00001.png 518.8579\n\nb/rgb_1.jpg b/d_1.png\n")
    entries = read_filelist(lst)
    assert [(e.rgb, e.depth, e.focal) for e in entries] == [
        ("a_0001b/rgb_00001.jpg", "a_0001b/sync_depth_00001.png", 518.8579), ("b/rgb_1.jpg", "b/d_1.png", None)]
    lst.write_text("a.jpg a.png 1\nonly_one_field\n")
    with pytest.raises(ValueError, match=r"l\.txt:2"):
        read_filelist(lst)
    with pytest.raises(FileNotFoundError, match=r"nope\.txt.*nyuv2_bts\.yaml"):
        read_filelist(tmp_path / "nope.txt")


def test_missing_and_bad_files(sync, tmp_path):
    root, fx = sync
    lst = tmp_path / "l.txt"
    lst.write_text("kitchen_0001a/rgb_00000.jpg kitchen_0001a/missing.png 518.8579\n")
    with pytest.raises(FileNotFoundError, match=r"missing\.png"):
        NYUv2Sync(root, lst)[0]
    Image.fromarray(np.zeros((H, W), np.uint8)).save(tmp_path / "eight_bit.png")
    (tmp_path / "rgb.jpg").write_bytes((root / "kitchen_0001a/rgb_00000.jpg").read_bytes())
    lst.write_text("rgb.jpg eight_bit.png\n")
    with pytest.raises(ValueError, match=r"eight_bit\.png.*16-bit"):
        NYUv2Sync(tmp_path, lst)[0]
    with pytest.raises(FileNotFoundError, match="images root"):
        NYUv2Sync(tmp_path / "absent", fx["list"])
