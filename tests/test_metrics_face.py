"""300W NME and Menpo 3DA-2D error / CED on the real 300W fixture, against hand arithmetic."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from wholebody.eval import metrics_face as mf


@pytest.fixture(scope="module")
def faces(fixtures_dir):
    data = json.loads((fixtures_dir / "300w" / "test_300w.json").read_text())
    kpts = np.array([a["keypoints"] for a in data["annotations"]], dtype=np.float64).reshape(-1, 68, 3)
    return kpts[..., :2], kpts[..., 2] > 0


def _interocular(face) -> float:
    return math.hypot(face[36][0] - face[45][0], face[36][1] - face[45][1])


def _box_diagonal(face) -> float:
    xs = [p[0] for p in face]
    ys = [p[1] for p in face]
    return math.hypot(max(xs) - min(xs), max(ys) - min(ys))


def test_nme_uniform_shift_is_shift_over_interocular(faces):
    gt, visible = faces
    result = mf.nme_interocular(gt + np.array([3.0, 4.0]), gt, visible)
    expected = [5.0 / _interocular(gt[0]), 5.0 / _interocular(gt[1])]  # d_io = 290.58 and 348.44 px
    np.testing.assert_allclose(result.per_image, expected)
    assert result.mean == pytest.approx(sum(expected) / 2)


def test_nme_single_landmark_and_mask(faces):
    gt, visible = faces
    pred = gt.copy()
    pred[:, 30, 1] += 10.0  # nose tip 10 px down
    result = mf.nme_interocular(pred, gt, visible)
    assert result.per_image[0] == pytest.approx(10.0 / 68 / _interocular(gt[0]))
    masked = visible.copy()
    masked[0, 30] = False  # hide the moved point: face 0 becomes perfect, 67 points averaged
    assert mf.nme_interocular(pred, gt, masked).per_image[0] == 0.0


def test_nme_custom_eye_corners(faces):
    gt, _ = faces
    pred = gt + np.array([0.0, 2.0])
    inner = math.hypot(gt[0][39][0] - gt[0][42][0], gt[0][39][1] - gt[0][42][1])
    assert mf.nme_interocular(pred, gt, eye_corners=(39, 42)).per_image[0] == pytest.approx(2.0 / inner)


def test_menpo_uniform_shift_mean_and_rms_agree(faces):
    gt, _ = faces
    pred = gt + np.array([3.0, 4.0])
    expected = [5.0 / _box_diagonal(gt[0]), 5.0 / _box_diagonal(gt[1])]
    np.testing.assert_allclose(mf.menpo_error(pred, gt).per_image, expected)
    np.testing.assert_allclose(mf.menpo_error(pred, gt, mode="rms").per_image, expected)


def test_menpo_mean_and_rms_differ_for_uneven_errors(faces):
    """Even-numbered landmarks off by 6 px, odd ones exact: mean = 3 px, rms = sqrt(18) px."""
    gt, _ = faces
    pred = gt.copy()
    pred[:, 0::2, 0] += 6.0
    diag = _box_diagonal(gt[0])
    assert mf.menpo_error(pred, gt).per_image[0] == pytest.approx(3.0 / diag)
    assert mf.menpo_error(pred, gt, mode="rms").per_image[0] == pytest.approx(math.sqrt(18.0) / diag)
    # the issue's wording: sqrt(sum of squared distances) / (sqrt(N) x diagonal) is the rms mode
    issue_wording = math.sqrt(34 * 36.0) / (math.sqrt(68) * diag)
    assert mf.menpo_error(pred, gt, mode="rms").per_image[0] == pytest.approx(issue_wording)


def test_landmark_box_uses_visible_points_only(faces):
    gt, visible = faces
    masked = visible.copy()
    masked[0, 0:17] = False  # no jaw: the box shrinks to brows, eyes, nose and mouth
    points = [gt[0][k] for k in range(17, 68)]
    assert mf.landmark_box_diagonal(gt, masked)[0] == pytest.approx(_box_diagonal(points))


def test_ced_auc_by_hand():
    auc, failures = mf.ced_auc([0.01, 0.03, 0.07], cutoff=0.05)
    assert auc == pytest.approx(((1 - 0.01 / 0.05) + (1 - 0.03 / 0.05) + 0.0) / 3)
    assert failures == pytest.approx(1 / 3)
    np.testing.assert_allclose(mf.ced_curve([0.01, 0.03, 0.07], [0.0, 0.02, 0.05, 0.1]), [0, 1 / 3, 2 / 3, 1])


def test_ced_auc_matches_fine_trapezoid_on_fixture(faces):
    gt, _ = faces
    errors = mf.menpo_error(gt + np.array([3.0, 4.0]), gt).per_image  # about 0.0098 and 0.0077
    auc, failures = mf.ced_auc(errors, cutoff=0.05)
    assert auc == pytest.approx(sum(1 - 5.0 / _box_diagonal(face) / 0.05 for face in gt) / 2)
    grid = np.linspace(0, 0.05, 20001)
    curve = mf.ced_curve(errors, grid)
    assert auc == pytest.approx(np.sum((curve[1:] + curve[:-1]) / 2 * np.diff(grid)) / 0.05, abs=1e-4)
    assert failures == 0.0


def test_menpo_rejects_unknown_mode(faces):
    gt, _ = faces
    with pytest.raises(ValueError, match="mode"):
        mf.menpo_error(gt, gt, mode="median")


def test_zero_interocular_distance_is_an_error(faces):
    gt, _ = faces
    collapsed = gt.copy()
    collapsed[1, 45] = collapsed[1, 36]
    with pytest.raises(ValueError, match="face 1"):
        mf.nme_interocular(collapsed, collapsed)
