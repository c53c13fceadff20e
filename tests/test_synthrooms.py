"""SynthRooms: geometry, determinism, splits, labels, depth statistics, holes and the disk cache."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from depthstudy.data import synthrooms
from depthstudy.data.classes import IGNORE_INDEX, MAP_40_TO_4, MAP_40_TO_13
from depthstudy.data.sample import check_sample
from depthstudy.data.synth import layout, render
from depthstudy.data.synthrooms import SynthRooms, cache_file, render_views

SMALL = dict(height=24, width=32, train_scenes=3, test_scenes=2, views_per_scene=2, seed=0)


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("synthcache")


@pytest.fixture(scope="module")
def train(cache_root):
    return SynthRooms("train", cache_dir=cache_root, **SMALL)


def _scene_with(prims: list[dict], size=(4.0, 5.0, 2.8)) -> layout.Scene:
    """An empty room of ``size`` plus the given primitives (kind, center, half, yaw, label)."""
    base = layout.sample_scene(0, 0)
    n = layout.ROOM_FACES + len(prims)
    rows = list(range(layout.ROOM_FACES)) + [layout.ROOM_FACES] * len(prims)
    names = ("kind", "center", "half", "yaw", "label", "color", "pattern", "pscale", "contrast", "ir_drop",
             "emissive", "phase", "tag")
    fields = {name: getattr(base, name)[rows].copy() for name in names}
    for i, p in enumerate(prims, start=layout.ROOM_FACES):
        fields["kind"][i], fields["center"][i], fields["half"][i] = p["kind"], p["center"], p["half"]
        fields["yaw"][i], fields["label"][i] = p.get("yaw", 0.0), p["label"]
        fields["ir_drop"][i] = 0.0
    assert len(fields["kind"]) == n
    return dataclasses.replace(base, size=np.array(size, np.float32), **fields)


def _look_along_x(scene, origin, h=24, w=32):
    rot = layout._rotation(0.0, 0.0, 0.0)[None]
    return render.render(scene, np.array([origin], np.float32), rot, h, w, [0])


def test_z_depth_of_a_wall_is_constant():
    """Rays have unit forward component, so the wall ahead has one z-depth everywhere (not ray length)."""
    out = _look_along_x(_scene_with([], size=(8.0, 5.0, 2.8)), (1.0, 2.5, 1.4))
    depth, label = out["depth"][0], out["label40"][0]
    assert (label[8:16, 12:20] == 1).all()           # the image centre sees the wall x = W = 8
    np.testing.assert_allclose(depth[8:16, 12:20], 7.0, atol=1e-4)
    # The bottom-centre pixel sees the floor at z = camera height * fy / (v - cy).
    fx, fy, cx, cy = render.intrinsics(24, 32)
    assert label[23, 16] == 2
    assert depth[23, 16] == pytest.approx(1.4 * fy / (23.5 - cy), rel=1e-4)


def test_box_yawed_box_and_cylinder_depths():
    box = dict(kind=1, center=(2.5, 2.5, 1.4), half=(0.2, 0.3, 0.4), label=7)
    out = _look_along_x(_scene_with([box]), (1.0, 2.5, 1.4))
    assert out["label40"][0, 12, 16] == 7
    assert out["depth"][0, 12, 16] == pytest.approx(2.5 - 0.2 - 1.0, abs=1e-4)
    yawed = dict(kind=1, center=(3.0, 2.5, 1.4), half=(0.3, 0.3, 0.4), yaw=math.pi / 4, label=3)
    out = _look_along_x(_scene_with([yawed]), (1.0, 2.5, 1.4), h=25, w=33)    # odd size: a centre pixel
    assert out["label40"][0, 12, 16] == 3
    assert out["depth"][0, 12, 16] == pytest.approx(3.0 - 0.3 * math.sqrt(2) - 1.0, abs=1e-3)
    cylinder = dict(kind=2, center=(3.0, 2.5, 1.0), half=(0.25, 0.25, 1.0), label=35)
    out = _look_along_x(_scene_with([cylinder]), (1.0, 2.5, 1.4), h=25, w=33)
    assert out["label40"][0, 12, 16] == 35
    assert out["depth"][0, 12, 16] == pytest.approx(3.0 - 0.25 - 1.0, abs=1e-3)


def test_render_views_deterministic_and_seeded():
    a = render_views(0, 5, [0, 1], 24, 32)
    b = render_views(0, 5, [0, 1], 24, 32)
    for key in ("rgb", "depth", "raw_depth", "label40"):
        np.testing.assert_array_equal(a[key], b[key])
    c = render_views(1, 5, [0, 1], 24, 32)
    assert not np.array_equal(a["depth"], c["depth"])
    assert not np.array_equal(a["rgb"][0], a["rgb"][1])          # views differ


def test_cameras_inside_room_and_clear_of_furniture():
    for scene in range(12):
        room = layout.sample_scene(3, scene)
        w, d, h = room.size
        for view in range(4):
            o, rot = layout.sample_camera(room, 3, view)
            assert layout.WALL_MARGIN <= o[0] <= w - layout.WALL_MARGIN
            assert layout.WALL_MARGIN <= o[1] <= d - layout.WALL_MARGIN
            assert 1.0 <= o[2] <= 1.8
            f = room.footprints
            inside = (o[0] > f[:, 0]) & (o[0] < f[:, 1]) & (o[1] > f[:, 2]) & (o[1] < f[:, 3])
            assert not inside.any()
            np.testing.assert_allclose(rot.T @ rot, np.eye(3), atol=1e-5)
        assert 2.5 <= w <= 8 and 3 <= d <= 12 and 2.4 <= h <= 3.2
        assert room.scene_type in synthrooms.SCENE_TYPES


def test_samples_splits_and_intrinsics(train, cache_root):
    test = SynthRooms("test", cache_dir=cache_root, **SMALL)
    assert len(train) == 6 and len(test) == 4
    assert set(train.scene_ids) == {0, 1, 2} and set(test.scene_ids) == {3, 4}
    assert train.num_scenes == 3 and test.num_scenes == 2
    for i in range(len(train)):
        s = train[i]
        check_sample(s)
        assert s["image"].shape == (3, 24, 32) and 0 <= s["image"].min() and s["image"].max() <= 1
        assert s["scene_name"] == f"{s['scene_type']}_{s['scene']:04d}" and s["index"] == i
    assert train.intrinsics == (0.81 * 32, 0.81 * 32, 16.0, 12.0)
    assert len(synthrooms.SCENE_TYPES) >= 6


def test_classes_map_through_nyu40(train, cache_root):
    label40 = train.semantic40_array().astype(np.int64)
    assert label40.min() >= 1 and label40.max() <= 40
    s40 = np.stack([train[i]["semantic"].numpy() for i in range(len(train))])
    np.testing.assert_array_equal(s40, label40 - 1)
    for classes, table in ((13, MAP_40_TO_13), (4, MAP_40_TO_4)):
        ds = SynthRooms("train", classes=classes, cache_dir=cache_root, **SMALL)
        sem = np.stack([ds[i]["semantic"].numpy() for i in range(len(ds))])
        np.testing.assert_array_equal(sem, table[label40 - 1] - 1)
        assert sem.max() < classes and IGNORE_INDEX not in sem
    walls = label40 == 1
    ds4 = SynthRooms("train", classes=4, cache_dir=cache_root, **SMALL)
    assert (ds4[0]["semantic"].numpy()[walls[0]] == 1).all()          # wall -> "structure"


def test_depth_histogram_long_tail(cache_root):
    ds = SynthRooms("train", height=24, width=32, train_scenes=16, test_scenes=1, views_per_scene=3, seed=0,
                    cache_dir=cache_root)
    depth = ds.depth_array()
    assert depth.dtype == np.float32 and depth.shape == (48, 24, 32)
    assert ((depth >= 1) & (depth <= 4)).mean() > 0.5
    assert (depth > 5).any() and depth.max() <= 10.0 and depth.min() > 0


def test_raw_depth_holes(train):
    raw = np.stack([train[i]["raw_depth"].numpy() for i in range(len(train))])
    depth = np.stack([train[i]["depth"].numpy() for i in range(len(train))])
    holes = raw == 0
    assert 0.005 < holes.mean() < 0.5
    np.testing.assert_array_equal(raw[~holes], depth[~holes])


def test_max_depth_clips_depth_and_marks_raw_holes(cache_root):
    ds = SynthRooms("train", max_depth=3.0, cache_dir=cache_root, **SMALL)
    full = SynthRooms("train", cache_dir=cache_root, **SMALL).depth_array()
    depth = ds.depth_array()
    np.testing.assert_array_equal(depth, np.minimum(full, 3.0))
    raw = np.stack([ds[i]["raw_depth"].numpy()[0] for i in range(len(ds))])
    assert raw.max() <= 3.0 and (raw[full > 3.0] == 0).all()


def test_cache_hit_skips_rendering(cache_root, monkeypatch):
    first = SynthRooms("test", cache_dir=cache_root, **SMALL)
    assert first.cache_path.is_file() and (first.cache_path.parent / "params.json").is_file()

    def boom(*args, **kwargs):
        raise AssertionError("rendered despite a cache hit")

    monkeypatch.setattr(synthrooms, "render_views", boom)
    second = SynthRooms("test", cache_dir=cache_root, **SMALL)
    np.testing.assert_array_equal(first.depth_array(), second.depth_array())
    with pytest.raises(AssertionError, match="rendered"):
        SynthRooms("test", cache=False, **SMALL)


def test_cache_key_depends_on_every_parameter(tmp_path, monkeypatch):
    params = dict(SMALL, max_depth=10.0, val_scenes=0, pretrain_scenes=0)
    base = cache_file("train", tmp_path, **params)
    assert cache_file("train", tmp_path, **params) == base
    for name, value in (("seed", 1), ("height", 32), ("width", 48), ("train_scenes", 4), ("test_scenes", 3),
                        ("val_scenes", 2), ("pretrain_scenes", 2), ("views_per_scene", 3), ("max_depth", 8.0)):
        assert cache_file("train", tmp_path, **dict(params, **{name: value})).parent != base.parent, name
    monkeypatch.setattr(synthrooms, "GENERATOR_VERSION", "other")
    assert cache_file("train", tmp_path, **params).parent != base.parent


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="split='valid'.*train"):
        SynthRooms("valid", cache=False, **SMALL)
    with pytest.raises(ValueError, match="val_scenes must be >= 1"):
        SynthRooms("val", cache=False, **SMALL)
    with pytest.raises(ValueError, match="classes=12.*40"):
        SynthRooms("train", classes=12, cache=False, **SMALL)
    with pytest.raises(ValueError, match="height"):
        SynthRooms("train", cache=False, **dict(SMALL, height=0))
    with pytest.raises(ValueError, match="unknown SynthRooms parameters"):
        synthrooms.pregenerate(progress=False, colour=True)
    with pytest.raises(IndexError):
        SynthRooms("test", cache=False, **SMALL)[4]
