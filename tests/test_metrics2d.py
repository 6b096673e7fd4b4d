"""PCKh, EPE, PCK, AUC and box NME on real fixtures, checked against hand arithmetic.

Human3.6M: ``test_h36m_2d_detection.npy`` (a real 2D detector's output) against the ``part``
GT of ``test_h36m_body3d.npz``.  RHD: ``keypoints`` of ``test_rhd.json`` with a known shift.
Expected values are computed here with ``math`` on single points, never with the metric code.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from wholebody.eval import metrics2d as m2


@pytest.fixture(scope="module")
def h36m(fixtures_dir):
    gt = np.load(fixtures_dir / "h36m" / "test_h36m_body3d.npz")
    det = np.load(fixtures_dir / "h36m" / "test_h36m_2d_detection.npy")
    return det[..., :2], gt["part"][..., :2], gt["part"][..., 2] > 0, gt["scale"] * 200.0


@pytest.fixture(scope="module")
def rhd(fixtures_dir):
    data = json.loads((fixtures_dir / "rhd" / "test_rhd.json").read_text())
    kpts = np.array([a["keypoints"] for a in data["annotations"]], dtype=np.float64)
    return kpts[..., :2], kpts[..., 2] > 0, np.array([a["bbox"] for a in data["annotations"]])


def _dist(a, b) -> float:
    return math.hypot(float(a[0]) - float(b[0]), float(a[1]) - float(b[1]))


def _square_head_boxes(gt):
    """A head box per frame: a square of half-side |head - neck| around the head (joint 10)."""
    boxes = []
    for frame in gt:
        s = _dist(frame[10], frame[9])
        boxes.append([frame[10][0] - s, frame[10][1] - s, frame[10][0] + s, frame[10][1] + s])
    return np.array(boxes)


def test_mpii_head_size_is_0_6_box_diagonal():
    sizes = m2.mpii_head_size([[10.0, 20.0, 40.0, 60.0]])
    assert sizes[0] == pytest.approx(0.6 * 50.0)  # diagonal of a 30 x 40 box is 50


@pytest.mark.parametrize("threshold", [0.5, 0.1])
def test_pckh_on_h36m_detections(h36m, threshold):
    pred, gt, visible, _ = h36m
    boxes = _square_head_boxes(gt)
    result = m2.pckh(pred, gt, visible, m2.mpii_head_size(boxes), threshold=threshold, exclude=(0, 7))
    hits = np.zeros(17)
    for n in range(4):
        head = 0.6 * math.hypot(boxes[n][2] - boxes[n][0], boxes[n][3] - boxes[n][1])
        for k in range(17):
            hits[k] += _dist(pred[n][k], gt[n][k]) <= threshold * head
    np.testing.assert_allclose(result.per_joint, hits / 4)
    kept = [k for k in range(17) if k not in (0, 7)]
    assert result.mean == pytest.approx(hits[kept].sum() / (4 * len(kept)))
    assert result.counts.tolist() == [4] * 17


def test_pckh_known_miss(h36m):
    """Frame 1 (S5 SittingDown): the right elbow (15) misses at 0.5 head size; check by hand."""
    pred, gt, visible, _ = h36m
    s = _dist(gt[1][10], gt[1][9])
    head = 0.6 * math.hypot(2 * s, 2 * s)
    error = math.hypot(pred[1][15][0] - gt[1][15][0], pred[1][15][1] - gt[1][15][1])
    assert error > 0.5 * head  # 28.4 px against a 23.7 px threshold
    result = m2.pckh(pred, gt, visible, m2.mpii_head_size(_square_head_boxes(gt)))
    assert result.per_joint[15] == pytest.approx(3 / 4)


def test_pckh_excluded_joints_and_groups():
    gt = np.zeros((2, 16, 2))
    pred = gt.copy()
    pred[:, 6] = 100.0  # pelvis wrong in both, but excluded from the mean
    pred[0, 12] = 100.0  # right shoulder wrong in one of two images
    result = m2.pckh(pred, gt, None, [10.0, 10.0])
    assert result.per_joint[6] == 0.0
    assert result.mean == pytest.approx((14 * 2 - 1) / (14 * 2))
    groups = m2.group_means(result.per_joint)
    assert groups["shoulder"] == pytest.approx((0.5 + 1.0) / 2)
    assert groups["head"] == 1.0


def test_dope13_to_mpii_names_agree():
    from wholebody.schema import DOPE_BODY13

    for dope_index, mpii_index in enumerate(m2.DOPE13_TO_MPII):
        dope_name, mpii_name = DOPE_BODY13.keypoints[dope_index], m2.MPII_JOINTS[mpii_index]
        assert dope_name == mpii_name or (dope_name, mpii_name) == ("head", "head_top")


def test_epe_h36m_pooled_and_masked(h36m):
    pred, gt, visible, _ = h36m
    errors = [_dist(pred[n][k], gt[n][k]) for n in range(4) for k in range(17)]
    assert m2.epe(pred, gt, visible) == pytest.approx(sum(errors) / len(errors))
    masked = visible.copy()
    masked[1, 15:17] = False  # drop the two worst points of frame 1
    kept = [_dist(pred[n][k], gt[n][k]) for n in range(4) for k in range(17) if masked[n, k]]
    assert m2.epe(pred, gt, masked) == pytest.approx(sum(kept) / 66)


def test_hand_epe_and_box_nme_with_known_shift(rhd):
    gt, visible, bboxes = rhd
    pred = gt + np.array([3.0, 4.0])  # every point off by exactly 5 px
    assert m2.epe(pred, gt, visible) == pytest.approx(5.0)
    max_sides = [max(b[2], b[3]) for b in bboxes]  # 121.46, 118.92, 59.64
    assert m2.nme_box(pred, gt, visible, bboxes) == pytest.approx(sum(5.0 / s for s in max_sides) / 3)
    diagonals = [math.hypot(b[2], b[3]) for b in bboxes]
    assert m2.nme_box(pred, gt, visible, bboxes, mode="diagonal") == pytest.approx(sum(5.0 / d for d in diagonals) / 3)


def test_pck_at_0_2_on_rhd_ramp(rhd):
    """Joint k is moved along x by (0.0125 k + 0.003) x box max side: correct iff k <= 15."""
    gt, visible, bboxes = rhd
    sides = np.maximum(bboxes[:, 2], bboxes[:, 3])
    fraction = 0.0125 * np.arange(21) + 0.003
    pred = gt.copy()
    pred[..., 0] += fraction[None, :] * sides[:, None]
    result = m2.pck(pred, gt, visible, m2.box_size(bboxes), threshold=0.2)
    expected = [1.0 if 0.0125 * k + 0.003 < 0.2 else 0.0 for k in range(21)]
    np.testing.assert_array_equal(result.per_joint, expected)
    assert result.mean == pytest.approx(16 / 21)


def test_pck_on_h36m_detections_uses_strict_threshold(h36m):
    pred, gt, visible, box_sides = h36m
    result = m2.pck(pred, gt, visible, box_sides, threshold=0.02)
    per_joint = [sum(_dist(pred[n][k], gt[n][k]) / box_sides[n] < 0.02 for n in range(4)) / 4 for k in range(17)]
    np.testing.assert_allclose(result.per_joint, per_joint)
    assert result.mean == pytest.approx(sum(per_joint) / 17)


def test_auc_known_shift_is_16_of_20(rhd):
    """A 5 px error passes the thresholds 1.5 i px for i >= 4 (6, 7.5, ... 28.5): AUC = 16/20."""
    gt, visible, _ = rhd
    assert m2.pck_auc(gt + np.array([3.0, 4.0]), gt, visible) == pytest.approx(16 / 20)
    assert m2.pck_auc(gt, gt, visible) == pytest.approx(19 / 20)  # the t = 0 term never counts


def test_auc_on_h36m_detections(h36m):
    pred, gt, visible, _ = h36m
    steps = []
    for i in range(20):
        t = 30.0 * i / 20
        steps.append(sum(_dist(pred[n][k], gt[n][k]) < t for n in range(4) for k in range(17)) / 68)
    # every joint has all 4 frames, so the per-joint mean equals the pooled fraction
    assert m2.pck_auc(pred, gt, visible, norm_px=30.0) == pytest.approx(sum(steps) / 20)


def test_box_size_rejects_unknown_mode():
    with pytest.raises(ValueError, match="unknown mode"):
        m2.box_size([[0, 0, 1, 1]], mode="perimeter")
