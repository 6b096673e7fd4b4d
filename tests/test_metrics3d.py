"""MPJPE, 3D-PCK and the RHD 3D-PCK AUC on real 3D fixtures with known perturbations.

Human3.6M ``S``: camera coordinates in metres.  RHD ``joint_cam``: millimetres, divided by 1000.
Expected values are derived here by hand from the perturbation, not with the metric code.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from wholebody.eval import metrics3d as m3


@pytest.fixture(scope="module")
def h36m_3d(fixtures_dir):
    data = np.load(fixtures_dir / "h36m" / "test_h36m_body3d.npz")
    return data["S"][..., :3], data["S"][..., 3] > 0


@pytest.fixture(scope="module")
def rhd_3d(fixtures_dir):
    data = json.loads((fixtures_dir / "rhd" / "test_rhd.json").read_text())
    return np.array([a["joint_cam"] for a in data["annotations"]], dtype=np.float64) / 1000.0


def test_translation_does_not_count(h36m_3d):
    gt, visible = h36m_3d
    pred = gt + np.array([1.0, -2.0, 3.0])
    assert m3.mpjpe(pred, gt, visible) == pytest.approx(0.0, abs=1e-12)
    assert m3.pck3d(pred, gt, visible).mean == 1.0


def test_pck3d_and_mpjpe_with_moved_wrist_and_elbow(h36m_3d):
    """Right wrist (16) 0.20 m off (miss at 150 mm), right elbow (15) 0.10 m off (hit)."""
    gt, visible = h36m_3d
    pred = gt.copy()
    pred[:, 16, 0] += 0.20
    pred[:, 15, 2] -= 0.10
    result = m3.pck3d(pred, gt, visible)
    assert result.mean == pytest.approx(16 / 17)
    assert result.per_joint[16] == 0.0 and result.per_joint[15] == 1.0
    assert m3.mpjpe(pred, gt, visible) == pytest.approx((0.20 + 0.10) / 17)


def test_moving_the_root_moves_every_other_joint(h36m_3d):
    gt, visible = h36m_3d
    pred = gt.copy()
    pred[:, 0, 1] += 0.16  # pelvis 16 cm down: every root-relative joint is 16 cm off
    assert m3.pck3d(pred, gt, visible).mean == pytest.approx(1 / 17)  # only the root itself
    assert m3.mpjpe(pred, gt, visible) == pytest.approx(16 * 0.16 / 17)


def test_root_as_hip_midpoint(h36m_3d):
    gt, visible = h36m_3d
    pred = gt.copy()
    pred[:, 1, 0] += 0.30  # right hip 30 cm: the mid-hip root moves 15 cm
    result = m3.pck3d(pred, gt, visible, threshold=0.149, root=(1, 4))
    # right hip error 15 cm, every other joint (including the left hip) 15 cm: all miss at 149 mm
    assert result.mean == 0.0
    assert m3.mpjpe(pred, gt, visible, root=(1, 4)) == pytest.approx(0.15)


def test_mask_excludes_joints(h36m_3d):
    gt, visible = h36m_3d
    pred = gt.copy()
    pred[:, 16, 0] += 0.20
    masked = visible.copy()
    masked[:, 16] = False
    result = m3.pck3d(pred, gt, masked)
    assert result.mean == 1.0 and result.counts[16] == 0 and math.isnan(result.per_joint[16])


def _ramp_prediction(gt):
    """Move joint k along a fixed direction by a known magnitude (joints 9 and 10 together, so the
    scale bone keeps its length), then scale by 1.7 about the camera and translate."""
    magnitudes = np.array([0.0] + [0.001 + 0.0035 * k for k in range(1, 21)])
    magnitudes[10] = magnitudes[9]
    direction = np.array([2.0, -1.0, 2.0]) / 3.0
    relative = gt - gt[:, :1] + magnitudes[None, :, None] * direction
    return 1.7 * relative + np.array([0.05, 0.02, 0.4]), magnitudes


def _step_auc(m: float, thresholds: list[float]) -> float:
    """Normalised trapezoid area of the step PCK(t) = [m <= t] over ``thresholds``."""
    area = 0.0
    for lo, hi in zip(thresholds, thresholds[1:]):
        area += (hi - lo) * (int(m <= lo) + int(m <= hi)) / 2
    return area / (thresholds[-1] - thresholds[0])


def test_rhd_auc_with_known_errors(rhd_3d):
    pred, magnitudes = _ramp_prediction(rhd_3d)
    result = m3.pck3d_auc(pred, rhd_3d)
    thresholds = [0.05 * i / 19 for i in range(20)]
    assert result.auc == pytest.approx(sum(_step_auc(m, thresholds) for m in magnitudes) / 21)
    upper = thresholds[8:]  # 21.05 mm .. 50 mm
    assert upper[0] == pytest.approx(0.02105, abs=1e-5)
    assert result.auc_20_50 == pytest.approx(sum(_step_auc(m, upper) for m in magnitudes) / 21)
    assert result.epe_mean == pytest.approx(magnitudes.mean())
    # at 50 mm every joint with error <= 50 mm counts: 0.001 + 0.0035 k <= 0.05 for k <= 14
    assert result.curve[-1] == pytest.approx(sum(m <= 0.05 for m in magnitudes) / 21)


def test_rhd_auc_without_rescaling_sees_the_scale(rhd_3d):
    gt = rhd_3d
    pred = 2.0 * gt  # same shape, twice the size: root-relative errors equal |gt - root|
    assert m3.pck3d_auc(pred, gt).auc == pytest.approx(1.0)
    unscaled = m3.pck3d_auc(pred, gt, scale_bone=None)
    tip = np.linalg.norm(gt[0, 20] - gt[0, 0])  # pinky tip to wrist, about 9 cm
    assert tip > 0.05 and unscaled.auc < 0.5


def test_rhd_root_relative_errors_in_metres(rhd_3d):
    gt = rhd_3d
    pred = gt.copy()
    pred[:, 8] += np.array([0.0, 0.0, 0.012])  # forefinger tip 12 mm deeper
    dx = [(gt[n][8][i] - gt[n][0][i]) - (pred[n][8][i] - pred[n][0][i]) for n in range(3) for i in range(3)]
    assert math.sqrt(sum(d * d for d in dx) / 3) == pytest.approx(0.012)
    assert m3.mpjpe(pred, gt) == pytest.approx(0.012 / 21)


def test_auc_needs_two_thresholds_from_20mm(rhd_3d):
    with pytest.raises(ValueError, match="two thresholds"):
        m3.pck3d_auc(rhd_3d, rhd_3d, thresholds=[0.0, 0.01])
