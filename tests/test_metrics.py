"""The metrics facade and the shared input rules (``metrics_common``) across every metric.

No visible joint: NaN with a RuntimeWarning, never a crash or a silent NaN.  Mismatched or
malformed input: a ValueError that names the metric.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from wholebody.eval import metrics


@pytest.fixture(scope="module")
def hands(fixtures_dir):
    data = json.loads((fixtures_dir / "rhd" / "test_rhd.json").read_text())
    kpts = np.array([a["keypoints"] for a in data["annotations"]], dtype=np.float64)
    cam = np.array([a["joint_cam"] for a in data["annotations"]], dtype=np.float64) / 1000.0
    boxes = np.array([a["bbox"] for a in data["annotations"]], dtype=np.float64)
    return kpts[..., :2], cam, boxes


def _scalar_metrics(gt2d, gt3d, boxes):
    """Every summary metric as (name, call(visible) -> float)."""
    face = np.tile(gt2d[:1], (1, 4, 1))[:, :68]  # 84 points cut to 68 so indices 36/45 exist
    return [
        ("pckh", lambda v: metrics.pckh(gt2d, gt2d, v, np.ones(3), exclude=()).mean),
        ("epe", lambda v: metrics.epe(gt2d, gt2d, v)),
        ("nme_box", lambda v: metrics.nme_box(gt2d, gt2d, v, boxes)),
        ("pck", lambda v: metrics.pck(gt2d, gt2d, v, np.ones(3)).mean),
        ("pck_auc", lambda v: metrics.pck_auc(gt2d, gt2d, v)),
        ("nme_interocular", lambda v: metrics.nme_interocular(face, face, v[:1, :1].repeat(68, 1)).mean),
        ("menpo_error", lambda v: metrics.menpo_error(face, face, v[:1, :1].repeat(68, 1)).mean),
        ("mpjpe", lambda v: metrics.mpjpe(gt3d, gt3d, v)),
        ("pck3d", lambda v: metrics.pck3d(gt3d, gt3d, v).mean),
        ("pck3d_auc", lambda v: metrics.pck3d_auc(gt3d, gt3d, v).auc),
    ]


def test_no_visible_joint_gives_nan_with_warning(hands):
    gt2d, gt3d, boxes = hands
    nothing = np.zeros(gt2d.shape[:2], dtype=bool)
    for name, call in _scalar_metrics(gt2d, gt3d, boxes):
        with pytest.warns(RuntimeWarning, match=name):
            assert math.isnan(call(nothing)), name


def test_all_visible_gives_a_number_without_warning(hands):
    gt2d, gt3d, boxes = hands
    everything = np.ones(gt2d.shape[:2], dtype=bool)
    for name, call in _scalar_metrics(gt2d, gt3d, boxes):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # any warning (ours or numpy's "mean of empty slice") fails
            assert not math.isnan(call(everything)), name


def test_ced_of_nothing_warns():
    with pytest.warns(RuntimeWarning, match="ced_auc"):
        auc, failures = metrics.ced_auc([float("nan")])
    assert math.isnan(auc) and math.isnan(failures)


def test_per_joint_nan_only_where_nothing_is_visible(hands):
    gt2d, _, _ = hands
    visible = np.ones(gt2d.shape[:2], dtype=bool)
    visible[:, 5] = False
    result = metrics.pck(gt2d + 1.0, gt2d, visible, np.full(3, 100.0))
    assert math.isnan(result.per_joint[5]) and result.counts[5] == 0
    assert result.mean == 1.0  # the plain mean skips joint 5 instead of counting it as 0


@pytest.mark.parametrize(
    "name, call",
    [
        ("pckh", lambda p, g: metrics.pckh(p, g, None, np.ones(len(g)))),
        ("epe", lambda p, g: metrics.epe(p, g)),
        ("pck", lambda p, g: metrics.pck(p, g, None, np.ones(len(g)))),
        ("pck_auc", lambda p, g: metrics.pck_auc(p, g)),
        ("nme_interocular", lambda p, g: metrics.nme_interocular(p, g)),
        ("menpo_error", lambda p, g: metrics.menpo_error(p, g)),
    ],
)
def test_mismatched_shapes_raise(hands, name, call):
    gt2d, _, _ = hands
    face = np.tile(gt2d, (1, 4, 1))[:, :68]
    with pytest.raises(ValueError, match=f"{name}: prediction shape"):
        call(face[:, :67], face)
    with pytest.raises(ValueError, match=f"{name}: ground truth must be"):
        call(face[0], face[0])


def test_3d_metrics_reject_2d_points_and_bad_masks(hands):
    gt2d, gt3d, _ = hands
    with pytest.raises(ValueError, match="mpjpe: ground truth must be"):
        metrics.mpjpe(gt2d, gt2d)
    with pytest.raises(ValueError, match="pck3d: visibility mask shape"):
        metrics.pck3d(gt3d, gt3d, np.ones((3, 20), dtype=bool))
    with pytest.raises(ValueError, match="pck3d_auc: prediction shape"):
        metrics.pck3d_auc(gt3d[:2], gt3d)


def test_non_finite_visible_point_raises_but_hidden_one_is_ignored(hands):
    gt2d, _, _ = hands
    pred = gt2d.copy()
    pred[1, 7] = np.nan
    with pytest.raises(ValueError, match="instance 1, keypoint 7"):
        metrics.epe(pred, gt2d)
    visible = np.ones(gt2d.shape[:2], dtype=bool)
    visible[1, 7] = False
    assert metrics.epe(pred, gt2d, visible) == 0.0


def test_non_positive_normaliser_raises(hands):
    gt2d, _, boxes = hands
    with pytest.raises(ValueError, match="head size must be > 0"):
        metrics.pckh(gt2d, gt2d, None, np.array([1.0, 0.0, 1.0]))
    flat = boxes.copy()
    flat[2, 2:] = 0.0
    with pytest.raises(ValueError, match="instance 2"):
        metrics.pck(gt2d, gt2d, None, metrics.box_size(flat))


def test_coco_visibility_values_work_as_mask(hands):
    gt2d, _, _ = hands
    v = np.full(gt2d.shape[:2], 2.0)
    v[0, :] = 0.0  # hand 0 unlabelled: its large error must not count
    pred = gt2d.copy()
    pred[0] += 50.0
    assert metrics.epe(pred, gt2d, v) == 0.0


def test_facade_exports_everything():
    for name in metrics.__all__:
        assert hasattr(metrics, name), name
