"""Tests of depthstudy.metrics: depth metrics under protocols, and semantic metrics.

Expected values are computed by hand; the arithmetic is written next to each assertion.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from depthstudy.metrics import (
    DEPTH_METRIC_KEYS,
    ConfusionMatrix,
    depth_metrics,
    get_protocol,
    load_protocols,
    per_image_metrics,
    protocols,
    semantic_metrics,
)

LN2 = math.log(2.0)

# The tiny 2x2 example: gt = [[1, 2], [4, 4]], pred = [[2, 2], [2, 5]].
GT = np.array([[1.0, 2.0], [4.0, 4.0]])
PRED = np.array([[2.0, 2.0], [2.0, 5.0]])


def assert_metrics(result: dict, expected: dict, tol: float = 1e-12) -> None:
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, abs=tol), key


# --------------------------------------------------------------------------------------------------
# formulas


def test_each_metric_on_a_hand_computed_2x2_example():
    result = depth_metrics(PRED, GT, protocol="synthetic")
    # |gt - pred| = [1, 0, 2, 1]
    expected = {
        "abs_rel": (1 / 1 + 0 / 2 + 2 / 4 + 1 / 4) / 4,               # 1.75 / 4 = 0.4375
        "sq_rel": (1 / 1 + 0 / 2 + 4 / 4 + 1 / 4) / 4,                # 2.25 / 4 = 0.5625
        "rmse": math.sqrt((1 + 0 + 4 + 1) / 4),                       # sqrt(1.5)
        # ln gt - ln pred = [-ln 2, 0, ln 2, ln 0.8]
        "rmse_log": math.sqrt((LN2 ** 2 + 0 + LN2 ** 2 + math.log(0.8) ** 2) / 4),
        "log10": (math.log10(2) + 0 + math.log10(2) + math.log10(1.25)) / 4,
        # max(gt/pred, pred/gt) = [2, 1, 2, 1.25]; strict < 1.25^k
        "delta1": 1 / 4,                                              # only 1 < 1.25 (1.25 is not)
        "delta2": 2 / 4,                                              # 1, 1.25 < 1.5625
        "delta3": 2 / 4,                                              # 2 is not < 1.953125
        # e = ln pred - ln gt = [ln 2, 0, -ln 2, ln 1.25]
        "silog": 100 * math.sqrt((2 * LN2 ** 2 + math.log(1.25) ** 2) / 4
                                 - (math.log(1.25) / 4) ** 2),
    }
    assert_metrics(result, expected)
    assert result["n_images"] == 1 and result["n_skipped"] == 0
    assert set(DEPTH_METRIC_KEYS) <= set(result)


def test_perfect_prediction_gives_zero_errors_and_full_deltas():
    result = depth_metrics(GT, GT)
    assert_metrics(result, {"abs_rel": 0, "sq_rel": 0, "rmse": 0, "rmse_log": 0, "log10": 0,
                            "silog": 0, "delta1": 1, "delta2": 1, "delta3": 1})


# --------------------------------------------------------------------------------------------------
# masking and skipping


def test_all_invalid_image_is_skipped_and_counted_others_unchanged():
    other_gt = np.array([[2.0, 8.0], [3.0, 1.0]])
    other_pred = np.array([[1.0, 8.0], [3.0, 2.0]])
    invalid = np.array([[0.0, np.nan], [-1.0, np.inf]])
    with_invalid = depth_metrics(np.stack([PRED, PRED, other_pred]), np.stack([GT, invalid, other_gt]))
    without = depth_metrics(np.stack([PRED, other_pred]), np.stack([GT, other_gt]))
    assert with_invalid["n_skipped"] == 1 and with_invalid["n_images"] == 2
    assert without["n_skipped"] == 0 and without["n_images"] == 2
    for key in DEPTH_METRIC_KEYS:
        assert math.isfinite(with_invalid[key])
        assert with_invalid[key] == pytest.approx(without[key], abs=1e-12), key
    # abs_rel: image 1 = 0.4375 (above); image 3 = (1/2 + 0 + 0 + 1/1) / 4 = 0.375
    assert with_invalid["abs_rel"] == pytest.approx((0.4375 + 0.375) / 2)

    frame = per_image_metrics(np.stack([PRED, PRED, other_pred]), np.stack([GT, invalid, other_gt]))
    assert list(frame["index"]) == [0, 2]
    assert list(frame["n_valid"]) == [4, 4]
    assert frame.attrs["skipped"] == [1] and frame.attrs["n_skipped"] == 1
    assert not frame.isna().any().any()


def test_all_invalid_batch_raises_instead_of_nan():
    with pytest.raises(ValueError, match="no valid pixel"):
        depth_metrics(PRED, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="no valid pixel"):
        depth_metrics(PRED, np.zeros((2, 2)), aggregate="pixel")


@pytest.mark.parametrize("protocol", ["synthetic", "cliffnet"])
def test_nan_inf_zero_and_negative_gt_pixels_are_masked(protocol):
    # cliffnet has no max depth, so +inf is masked by the finiteness test alone
    gt = np.array([[2.0, np.nan, np.inf], [0.0, -1.0, 4.0], [-np.inf, 0.0, 4.0]])
    pred = np.array([[3.0, 5.0, 5.0], [5.0, 5.0, 3.0], [5.0, 5.0, 4.0]])
    masked = depth_metrics(pred, gt, protocol=protocol)
    kept = depth_metrics(np.array([[3.0, 3.0, 4.0]]), np.array([[2.0, 4.0, 4.0]]), protocol=protocol)
    for key in DEPTH_METRIC_KEYS:
        assert masked[key] == pytest.approx(kept[key], abs=1e-12), key
    # abs_rel = (1/2 + 1/4 + 0) / 3 = 0.25
    assert masked["abs_rel"] == pytest.approx(0.25)
    assert per_image_metrics(pred, gt, protocol=protocol)["n_valid"].tolist() == [3]


def test_gt_above_max_depth_is_masked():
    # synthetic keeps gt <= 10: gt 11 is dropped, leaving gt [2], pred [3]: abs_rel = 1/2
    assert depth_metrics(np.array([[3.0, 5.0]]), np.array([[2.0, 11.0]]))["abs_rel"] == pytest.approx(0.5)


def test_nan_prediction_is_an_error():
    with pytest.raises(ValueError, match="pred: contains NaN"):
        depth_metrics(np.array([[np.nan, 1.0]]), np.array([[1.0, 1.0]]))


def test_infinite_prediction_is_clipped_to_the_range():
    # pred +inf -> 10, -inf -> 1e-3; gt [5, 1]: abs_rel = (5/5 + 0.999/1) / 2
    result = depth_metrics(np.array([[np.inf, -np.inf]]), np.array([[5.0, 1.0]]))
    assert result["abs_rel"] == pytest.approx((1.0 + 0.999) / 2)


# --------------------------------------------------------------------------------------------------
# aggregation


def test_pooled_and_per_image_differ_for_unequal_valid_counts():
    # image A: 4 valid pixels, gt 2, pred 3 (error 1); image B: 1 valid pixel, gt 4, pred 7 (error 3)
    gt = np.stack([np.full((2, 2), 2.0), np.array([[4.0, 0.0], [0.0, 0.0]])])
    pred = np.stack([np.full((2, 2), 3.0), np.full((2, 2), 7.0)])
    per_image = depth_metrics(pred, gt, aggregate="image")
    pooled = depth_metrics(pred, gt, aggregate="pixel")
    assert per_image["rmse"] == pytest.approx((1.0 + 3.0) / 2)                # 2.0
    assert pooled["rmse"] == pytest.approx(math.sqrt((4 * 1 + 9) / 5))        # sqrt(2.6) = 1.612
    assert per_image["abs_rel"] == pytest.approx((0.5 + 0.75) / 2)            # 0.625
    assert pooled["abs_rel"] == pytest.approx((4 * 0.5 + 0.75) / 5)           # 0.55
    assert pooled["n_images"] == 2 and pooled["n_skipped"] == 0


def test_pooled_and_per_image_agree_on_means_for_equal_valid_counts():
    # A: gt [2, 4], pred [3, 3]; B: gt [1, 5], pred [2, 5]; 2 valid pixels each
    gt = np.array([[[2.0, 4.0]], [[1.0, 5.0]]])
    pred = np.array([[[3.0, 3.0]], [[2.0, 5.0]]])
    per_image = depth_metrics(pred, gt, aggregate="image")
    pooled = depth_metrics(pred, gt, aggregate="pixel")
    # abs_rel: A (1/2 + 1/4)/2 = 0.375, B (1/1 + 0)/2 = 0.5 -> 0.4375 both ways
    assert per_image["abs_rel"] == pytest.approx(0.4375)
    assert pooled["abs_rel"] == pytest.approx(0.4375)
    for key in ("sq_rel", "log10", "delta1", "delta2", "delta3"):
        assert per_image[key] == pytest.approx(pooled[key], abs=1e-12), key
    # rmse is not a mean: A 1, B sqrt(1/2) -> 0.8536 per image; pooled sqrt(3/4) = 0.8660
    assert per_image["rmse"] == pytest.approx((1 + math.sqrt(0.5)) / 2)
    assert pooled["rmse"] == pytest.approx(math.sqrt(0.75))


def test_unknown_aggregate_is_an_error():
    with pytest.raises(ValueError, match="aggregate='mean'"):
        depth_metrics(PRED, GT, aggregate="mean")


# --------------------------------------------------------------------------------------------------
# crops


def _window_case(protocol: str):
    top, bottom, left, right = get_protocol(protocol).crop_window(480, 640)
    gt = np.full((480, 640), 2.0)
    pred = np.full((480, 640), 10.0)            # error 8 everywhere outside the window
    pred[top:bottom, left:right] = 2.0          # perfect inside
    return gt, pred, (top, bottom, left, right)


@pytest.mark.parametrize("protocol, window", [("eigen", (20, 460, 24, 616)),
                                              ("bts", (45, 471, 41, 601))])
def test_crop_is_exactly_the_documented_window(protocol, window):
    gt, pred, bounds = _window_case(protocol)
    assert bounds == window
    top, bottom, left, right = window
    area = (bottom - top) * (right - left)      # eigen 440*592, bts 426*560
    assert area == {"eigen": 440 * 592, "bts": 426 * 560}[protocol]
    result = depth_metrics(pred, gt, protocol=protocol)
    assert result["abs_rel"] == 0.0 and result["rmse"] == 0.0
    assert per_image_metrics(pred, gt, protocol=protocol)["n_valid"].tolist() == [area]
    # One pixel just inside each edge with pred 3 (|3 - 2| / 2 = 0.5): abs_rel = 0.5 / area.
    mid_row, mid_col = (top + bottom) // 2, (left + right) // 2
    for row, col in ((top, mid_col), (bottom - 1, mid_col), (mid_row, left), (mid_row, right - 1)):
        changed = pred.copy()
        changed[row, col] = 3.0
        assert depth_metrics(changed, gt, protocol=protocol)["abs_rel"] == pytest.approx(0.5 / area)
    # Just outside each edge the prediction is already wrong (10 vs 2) and ignored; check the
    # outside pixels touching the window really are set.
    for row, col in ((top - 1, mid_col), (bottom, mid_col), (mid_row, left - 1), (mid_row, right)):
        assert pred[row, col] == 10.0


def test_full_frame_protocols_use_every_pixel():
    gt, pred, _ = _window_case("eigen")
    # synthetic: no crop, pixels outside the eigen window count: abs_rel = 8/2 * n_out / n
    n_out = 480 * 640 - 440 * 592
    assert depth_metrics(pred, gt, protocol="synthetic")["abs_rel"] == pytest.approx(4.0 * n_out / (480 * 640))


def test_crop_scales_with_the_evaluation_size():
    # eigen at 240x320: [10:230, 12:308]; bts at 240x320: [22.5, 235.5, 20.5, 300.5] rounded half up
    assert get_protocol("eigen").crop_window(240, 320) == (10, 230, 12, 308)
    assert get_protocol("bts").crop_window(240, 320) == (23, 236, 21, 301)
    assert get_protocol("synthetic").crop_window(240, 320) is None
    gt = np.full((240, 320), 2.0)
    pred = np.full((240, 320), 3.0)
    assert per_image_metrics(pred, gt, protocol="eigen")["n_valid"].tolist() == [220 * 296]


# --------------------------------------------------------------------------------------------------
# depth range and per-protocol validity


def test_depth_range_keeps_only_gt_below_hi():
    gt = np.array([[1.0, 3.0], [4.0, 6.0]])
    pred = np.array([[2.0, 3.0], [1.0, 1.0]])
    below4 = depth_metrics(pred, gt, depth_range=(0, 4))
    # kept gt [1, 3], pred [2, 3]: abs_rel = (1/1 + 0)/2 = 0.5, rmse = sqrt(1/2)
    assert below4["abs_rel"] == pytest.approx(0.5)
    assert below4["rmse"] == pytest.approx(math.sqrt(0.5))
    # lo is inclusive: (3, 10) keeps gt [3, 4, 6]: abs_rel = (0 + 3/4 + 5/6) / 3
    assert depth_metrics(pred, gt, depth_range=(3, 10))["abs_rel"] == pytest.approx((0.75 + 5 / 6) / 3)
    with pytest.raises(ValueError, match="depth_range"):
        depth_metrics(pred, gt, depth_range=(4, 4))


def test_cliffnet_clips_to_0_10_and_replaces_zeros_after_rmse():
    gt = np.array([[1.0, 2.0], [4.0, 8.0]])
    pred = np.array([[0.0, -3.0], [12.0, 8.0]])   # clipped to [0, 0, 10, 8]
    result = depth_metrics(pred, gt, protocol="cliffnet")
    # rmse before zero replacement: sqrt((1 + 4 + 36 + 0) / 4)
    assert result["rmse"] == pytest.approx(math.sqrt(41 / 4))
    # Decision D8: abs_rel/sq_rel take |gt - pred| before the zero replacement ([1, 2, 6, 0]), as
    # CLIFFNet's code does; replacing first would give (0.999 / 1 + 1.999 / 2 + 6 / 4) / 4
    assert result["abs_rel"] == pytest.approx((1 / 1 + 2 / 2 + 6 / 4 + 0) / 4)
    assert result["sq_rel"] == pytest.approx((1 / 1 + 4 / 2 + 36 / 4 + 0) / 4)
    # the other terms use pred zeros -> 1e-3: [0.001, 0.001, 10, 8]
    assert result["log10"] == pytest.approx((3 + (3 + math.log10(2)) + math.log10(2.5) + 0) / 4)
    # ratios [1000, 2000, 2.5, 1]
    assert result["delta1"] == pytest.approx(0.25) and result["delta3"] == pytest.approx(0.25)
    # synthetic clips at 1e-3 instead, so its rmse differs: sqrt((0.999^2 + 1.999^2 + 36) / 4)
    synthetic = depth_metrics(pred, gt, protocol="synthetic")
    assert synthetic["rmse"] == pytest.approx(math.sqrt((0.999 ** 2 + 1.999 ** 2 + 36) / 4))


def test_cliffnet_masks_zero_gt_unlike_the_authors_ge_0():
    # Decision D9: CLIFFNet's code keeps gt >= 0 (a 0 m target counts); we keep gt > 0. On the
    # hole-free labeled test depth the two agree; here the zero pixel is dropped.
    gt = np.array([[0.0, 2.0, 4.0]])
    pred = np.array([[1.0, 2.0, 4.0]])
    assert per_image_metrics(pred, gt, protocol="cliffnet")["n_valid"].tolist() == [2]
    assert depth_metrics(pred, gt, protocol="cliffnet")["rmse"] == 0.0


def test_cliffnet_has_no_depth_cap():
    gt = np.array([[12.0, 2.0]])
    pred = np.array([[10.0, 2.0]])
    # cliffnet keeps gt 12: abs_rel = (2/12 + 0) / 2; synthetic drops gt > 10: abs_rel 0
    assert depth_metrics(pred, gt, protocol="cliffnet")["abs_rel"] == pytest.approx(1 / 12)
    assert depth_metrics(pred, gt, protocol="synthetic")["abs_rel"] == 0.0


def test_bts_uses_strict_max_while_eigen_and_synthetic_keep_10():
    gt = np.full((480, 640), 5.0)
    gt[240, 320] = 10.0                    # inside both windows
    pred = np.full((480, 640), 5.0)
    assert depth_metrics(pred, gt, protocol="bts")["abs_rel"] == 0.0
    # eigen: one pixel with |5 - 10| / 10 = 0.5 among 440*592 pixels
    assert depth_metrics(pred, gt, protocol="eigen")["abs_rel"] == pytest.approx(0.5 / (440 * 592))
    assert depth_metrics(pred, gt, protocol="synthetic")["abs_rel"] == pytest.approx(0.5 / (480 * 640))


def test_min_depth_is_strict():
    gt = np.array([[1e-3, 2.0]])
    pred = np.array([[1.0, 2.0]])
    assert per_image_metrics(pred, gt, protocol="synthetic")["n_valid"].tolist() == [1]


# --------------------------------------------------------------------------------------------------
# resizing


def test_prediction_is_upsampled_bilinearly_to_gt_size():
    pred = np.array([[1.0, 2.0], [3.0, 4.0]])
    # half-pixel bilinear x2: source coords (i + 0.5)/2 - 0.5 = -0.25, 0.25, 0.75, 1.25 (clamped)
    # -> weights [1, 0], [.75, .25], [.25, .75], [0, 1] along each axis
    expected = np.array([[1.0, 1.25, 1.75, 2.0],
                         [1.5, 1.75, 2.25, 2.5],
                         [2.5, 2.75, 3.25, 3.5],
                         [3.0, 3.25, 3.75, 4.0]])
    assert depth_metrics(pred, expected)["rmse"] == pytest.approx(0.0, abs=1e-12)
    # a nearest-neighbour upsample would be off: check the expected map is not trivially matched
    nearest = np.kron(pred, np.ones((2, 2)))
    assert depth_metrics(nearest, expected)["rmse"] > 0.1


def test_eigen_upsamples_a_half_resolution_prediction():
    cols = np.arange(320)
    pred = np.tile(1.0 + 0.02 * cols, (240, 1))               # a ramp along columns, 240x320
    j = np.arange(640)
    # interior columns, half-pixel x2: source column j/2 - 0.25 -> value 1 + 0.02 (j/2 - 0.25)
    gt = np.tile(1.0 + 0.02 * (j / 2 - 0.25), (480, 1))
    result = depth_metrics(pred, gt, protocol="eigen")
    assert result["rmse"] == pytest.approx(0.0, abs=1e-9)
    assert per_image_metrics(pred, gt, protocol="eigen")["n_valid"].tolist() == [440 * 592]
    # bts resizes with align_corners=True (source column j * 319/639), so it does not match
    assert depth_metrics(pred, gt, protocol="bts")["rmse"] > 1e-3


def test_cliffnet_resizes_gt_to_prediction_without_blending_holes():
    gt = np.array([[1.0, 1.0, 2.0, 2.0],
                   [1.0, 1.0, 2.0, 2.0],
                   [3.0, 5.0, 0.0, 8.0],
                   [4.0, 4.0, 8.0, 8.0]])
    # half-pixel x0.5: each output pixel is the mean of its 2x2 block -> [[1, 2], [4, hole]]
    pred = np.array([[1.0, 2.0], [4.0, 7.0]])
    result = depth_metrics(pred, gt, protocol="cliffnet")
    assert result["rmse"] == pytest.approx(0.0, abs=1e-12)
    assert per_image_metrics(pred, gt, protocol="cliffnet")["n_valid"].tolist() == [3]
    # with the hole filled the block mean is 8 and the 4th pixel counts: abs_rel = (1/8) / 4
    filled = gt.copy()
    filled[2, 2] = 8.0
    assert depth_metrics(pred, filled, protocol="cliffnet")["abs_rel"] == pytest.approx(1 / 32)


# --------------------------------------------------------------------------------------------------
# input shapes and types


def test_shapes_numpy_and_torch_give_identical_results():
    rng = np.random.default_rng(0)
    gt = rng.integers(1, 40, size=(2, 6, 8)) * 0.25
    pred = rng.integers(1, 40, size=(2, 6, 8)) * 0.25
    reference = depth_metrics(pred, gt)
    variants = [
        (pred[:, None], gt[:, None]),
        (torch.from_numpy(pred).float(), torch.from_numpy(gt).float()),
        (torch.from_numpy(pred)[:, None].float(), torch.from_numpy(gt)),
    ]
    for p, g in variants:
        assert depth_metrics(p, g) == reference
    single = depth_metrics(pred[0], gt[0])
    assert depth_metrics(pred[:1], gt[:1]) == single
    assert depth_metrics(torch.from_numpy(pred[:1, None]), gt[0][None, None]) == single
    assert single != reference


def test_bad_inputs_are_reported_by_name():
    with pytest.raises(ValueError, match=r"pred: 4-D input must be \[N,1,H,W\]"):
        depth_metrics(np.ones((1, 2, 3, 3)), np.ones((1, 3, 3)))
    with pytest.raises(ValueError, match="different numbers of images"):
        depth_metrics(np.ones((2, 3, 3)), np.ones((3, 3, 3)))
    with pytest.raises(TypeError, match="gt: expected a torch.Tensor or numpy.ndarray"):
        depth_metrics(np.ones((3, 3)), [[1.0]])


# --------------------------------------------------------------------------------------------------
# protocols as data


def test_unknown_protocol_error_lists_valid_names():
    with pytest.raises(ValueError, match="nyu") as info:
        get_protocol("nyu")
    for name in ("bts", "cliffnet", "eigen", "synthetic"):
        assert name in str(info.value)
    with pytest.raises(ValueError, match="valid names"):
        depth_metrics(PRED, GT, protocol="dorn")


def test_packaged_protocols_hold_the_documented_fields():
    table = protocols()
    assert set(table) == {"cliffnet", "eigen", "bts", "synthetic"}
    assert table["bts"].gt == "raw_depth" and table["eigen"].gt == "depth"
    assert table["cliffnet"].resize == "gt_to_pred" and table["cliffnet"].crop is None
    assert table["cliffnet"].clip_pred == (0.0, 10.0) and table["cliffnet"].zero_replacement == 0.001
    assert table["bts"].max_inclusive is False and table["eigen"].max_inclusive is True
    with pytest.raises(AttributeError):
        table["eigen"].min_depth = 0.0  # frozen


def test_protocol_file_errors_name_the_file_and_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("broken:\n  description: x\n  source: y\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.yaml: protocol 'broken': missing fields .*crop"):
        load_protocols(path)
    fields = ("description: x\nsource: y\ngt: depth\nresize: pred_to_gt\nalign_corners: false\n"
              "crop: null\nreference_size: [480, 640]\nmin_depth: 0.0\nmax_depth: 10.0\n"
              "max_inclusive: true\nclip_pred: [0.0, 10.0]\nzero_replacement: null\n")
    path.write_text("nozero:\n" + "".join("  " + line + "\n" for line in fields.splitlines()))
    with pytest.raises(ValueError, match="needs a zero_replacement"):
        load_protocols(path)


# --------------------------------------------------------------------------------------------------
# semantic metrics

SEM_TARGET = np.array([[[0, 0, 1], [1, 2, 255]]])
SEM_PRED = np.array([[[0, 1, 1], [1, 2, 0]]])


def test_miou_by_hand_on_a_3_class_example():
    result = semantic_metrics(SEM_PRED, SEM_TARGET, num_classes=3)
    # counted pairs (target, pred): (0,0) (0,1) (1,1) (1,1) (2,2); the 255 pixel is ignored
    # IoU: class 0 = 1 / (1 + 1 fn) = 1/2; class 1 = 2 / (2 + 1 fp) = 2/3; class 2 = 1/1
    assert result["iou_per_class"] == pytest.approx([0.5, 2 / 3, 1.0])
    assert result["miou"] == pytest.approx((0.5 + 2 / 3 + 1.0) / 3)      # 13/18
    assert result["pixel_acc"] == pytest.approx(4 / 5)
    assert result["mean_acc"] == pytest.approx((1 / 2 + 2 / 2 + 1 / 1) / 3)  # 5/6


def test_ignored_pixels_do_not_count_whatever_is_predicted():
    pred = SEM_PRED.copy()
    pred[0, 1, 2] = 2
    assert semantic_metrics(pred, SEM_TARGET, 3) == semantic_metrics(SEM_PRED, SEM_TARGET, 3)
    # with a different ignore_index, 255 is an out-of-range label
    with pytest.raises(ValueError, match="target: labels must lie in 0..2"):
        semantic_metrics(SEM_PRED, SEM_TARGET, 3, ignore_index=-1)


def test_absent_class_is_excluded_from_the_mean_and_false_positive_class_counts():
    result = semantic_metrics(SEM_PRED, SEM_TARGET, num_classes=4)
    assert math.isnan(result["iou_per_class"][3])
    assert result["miou"] == pytest.approx(13 / 18)
    # predict class 3 at a class-2 pixel: IoU 3 = 0 (included), IoU 2 = 0 -> (1/2 + 2/3 + 0 + 0)/4
    pred = SEM_PRED.copy()
    pred[0, 1, 1] = 3
    assert semantic_metrics(pred, SEM_TARGET, 4)["miou"] == pytest.approx((0.5 + 2 / 3) / 4)


def test_accumulating_two_updates_equals_one_on_the_concatenation():
    other_target = np.array([[[2, 2, 0], [255, 1, 0]]])
    other_pred = np.array([[[2, 0, 0], [1, 1, 2]]])
    split = ConfusionMatrix(3)
    split.update(SEM_PRED, SEM_TARGET)
    split.update(torch.from_numpy(other_pred), torch.from_numpy(other_target))
    joint = ConfusionMatrix(3)
    joint.update(np.concatenate([SEM_PRED, other_pred]), np.concatenate([SEM_TARGET, other_target]))
    assert torch.equal(split.matrix, joint.matrix)
    assert split.compute() == joint.compute()
    assert split.compute() != semantic_metrics(SEM_PRED, SEM_TARGET, 3)
    assert int(joint.matrix.sum()) == 5 + 5


def test_logits_input_is_reduced_by_argmax():
    logits = 5.0 * torch.nn.functional.one_hot(torch.from_numpy(SEM_PRED), 3).permute(0, 3, 1, 2).float()
    logits = logits + 0.1 * torch.arange(3.0).view(1, 3, 1, 1)   # still argmax = SEM_PRED
    assert semantic_metrics(logits, SEM_TARGET, 3) == semantic_metrics(SEM_PRED, SEM_TARGET, 3)
    with pytest.raises(ValueError, match="4 channels"):
        semantic_metrics(torch.zeros(1, 4, 2, 3), SEM_TARGET, 3)


def test_empty_confusion_matrix_raises():
    with pytest.raises(ValueError, match="no labelled pixel"):
        ConfusionMatrix(3).compute()
