"""depthstudy.analysis.pointcloud: back-projection, intrinsics scaling, subsampling, figure."""

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

from depthstudy.analysis import pointcloud


def test_backproject_hand_computed():
    depth = torch.tensor([[[2.0, 0.0], [4.0, float("nan")]]])  # [1,2,2]; two invalid pixels
    image = torch.arange(12, dtype=torch.float32).reshape(3, 2, 2) / 12
    pts, cols = pointcloud.backproject(depth, (2.0, 4.0, 1.0, 1.0), image)
    # pixel (0,0): u = v = 0.5 -> x = (0.5-1)*2/2, y = (0.5-1)*2/4; pixel (1,0): v = 1.5, z = 4
    assert np.allclose(pts, [[-0.5, -0.25, 2.0], [-1.0, 0.5, 4.0]])
    assert np.allclose(cols, [[0 / 12, 4 / 12, 8 / 12], [2 / 12, 6 / 12, 10 / 12]])
    pts0, none = pointcloud.backproject(depth[0], (2.0, 4.0, 1.0, 1.0), pixel_offset=0.0, max_depth=3.0)
    assert none is None and np.allclose(pts0, [[-1.0, -0.5, 2.0]])
    with pytest.raises(ValueError, match="intrinsics"):
        pointcloud.backproject(depth, (0.0, 1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="image"):
        pointcloud.backproject(depth, (2.0, 4.0, 1.0, 1.0), torch.zeros(3, 3, 3))


def test_flat_wall_backprojects_to_a_plane():
    pts, _ = pointcloud.backproject(np.full((6, 8), 3.0), (4.0, 4.0, 4.0, 3.0))
    assert np.allclose(pts[:, 2], 3.0)
    # column 0 -> u = 0.5, x = (0.5 - 4) * 3 / 4; column 7 -> u = 7.5: symmetric about cx = 4
    assert (pts[:, 0].min(), pts[:, 0].max()) == pytest.approx((-2.625, 2.625))
    assert (pts[:, 1].min(), pts[:, 1].max()) == pytest.approx((-1.875, 1.875))


class Source:
    intrinsics = (518.0, 519.0, 325.0, 253.0)
    height, width = 480, 640


def test_dataset_intrinsics_scale_with_resize():
    assert pointcloud.dataset_intrinsics(Source(), (480, 640)) == pytest.approx(Source.intrinsics)
    fx, fy, cx, cy = pointcloud.dataset_intrinsics(Source(), (240, 320))
    assert (fx, fy, cx, cy) == pytest.approx((259.0, 259.5, 162.5, 126.5))
    with pytest.raises(AttributeError, match="intrinsics"):
        pointcloud.dataset_intrinsics(object(), (2, 2))


def test_subsample_and_figure():
    pts = np.random.default_rng(0).normal(size=(500, 3)).astype(np.float32)
    cols = np.zeros_like(pts)
    sub, sub_cols = pointcloud.subsample(pts, cols, 100, seed=1)
    assert sub.shape == (100, 3) and sub_cols.shape == (100, 3)
    assert {tuple(p) for p in sub} <= {tuple(p) for p in pts}
    same, _ = pointcloud.subsample(pts, None, 1000)
    assert same is pts
    fig = pointcloud.pointcloud_figure({"GT": (pts, cols), "pred": (pts, None)}, max_points=50)
    assert len(fig.axes) == 2
    with pytest.raises(ValueError):
        pointcloud.pointcloud_figure({})
