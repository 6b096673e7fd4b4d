"""wholebody.eval.postprocess: mmpose's rescoring and OKS-NMS before evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from wholebody.data.cocowb import load_ground_truth, load_results
from wholebody.eval.postprocess import (
    keypoint_extent_area, oks_nms, oks_nms_results, rescore, rescore_results,
)
from wholebody.eval.synthetic import SyntheticSpec, make_synthetic
from wholebody.schema import SIGMAS


def test_rescore_averages_only_scores_above_threshold():
    scores = np.array([[0.1, 0.5, 0.9, 0.2], [0.1, 0.2, 0.0, 0.15]])
    out = rescore(scores, np.array([0.8, 1.0]))
    assert out[0] == pytest.approx(0.8 * 0.7)  # 0.2 is not > 0.2
    assert out[1] == 0.0  # nothing passes: score 0


def test_keypoint_extent_area_uses_all_points():
    kpts = np.zeros((1, 133, 3))
    kpts[0, :, :2] = 50.0
    kpts[0, 5, :2] = (40.0, 45.0)
    kpts[0, 120, :2] = (70.0, 52.0)  # a hand point widens the extent
    assert keypoint_extent_area(kpts)[0] == (70.0 - 40.0) * (52.0 - 45.0)


def _person(rng, x, y, size=100.0):
    kpts = np.zeros((133, 3))
    kpts[:, 0] = x + rng.uniform(0, size, 133)
    kpts[:, 1] = y + rng.uniform(0, size, 133)
    kpts[:, 2] = 1.0
    return kpts


def test_oks_nms_drops_near_duplicates_per_image_only():
    rng = np.random.default_rng(0)
    a = _person(rng, 0, 0)
    near = a.copy()
    near[:, :2] += 0.5  # OKS with a is ~1
    far = _person(rng, 300, 300)
    kpts = np.stack([near, a, far, a.copy()])
    scores = np.array([0.8, 0.9, 0.7, 0.6])
    images = np.array([1, 1, 1, 2])  # the last one is alone in its image
    assert oks_nms(kpts, scores, images).tolist() == [1, 2, 3]


def test_oks_nms_equal_scores_keep_the_later_result_like_mmpose():
    rng = np.random.default_rng(1)
    a = _person(rng, 0, 0)
    kpts = np.stack([a, a.copy()])
    assert oks_nms(kpts, np.array([0.5, 0.5]), np.array([7, 7])).tolist() == [1]


def _mmpose_like_nms(kpts, scores, thr):
    """The greedy loop as mmpose describes it, one kept result at a time (reference for the test)."""
    variances = (SIGMAS * 2) ** 2
    areas = keypoint_extent_area(kpts)
    order = scores.argsort(kind="stable")[::-1]
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        ovr = np.zeros(len(order) - 1, np.float32)
        for n, j in enumerate(order[1:]):
            dx, dy = kpts[j, :, 0] - kpts[i, :, 0], kpts[j, :, 1] - kpts[i, :, 1]
            e = (dx**2 + dy**2) / variances / ((areas[i] + areas[j]) / 2 + np.spacing(1)) / 2
            ovr[n] = np.sum(np.exp(-e)) / len(e)
        order = order[np.flatnonzero(ovr <= thr) + 1]
    return sorted(keep)


@pytest.mark.parametrize("thr", [0.5, 0.9])
def test_oks_nms_matches_the_greedy_definition(thr):
    rng = np.random.default_rng(2)
    base = [_person(rng, x, y) for x, y in [(0, 0), (40, 10), (200, 200)]]
    kpts = np.stack([base[i % 3] + np.concatenate([rng.normal(0, 2, (133, 2)), np.zeros((133, 1))], 1)
                     for i in range(15)])
    scores = np.round(rng.uniform(0, 1, 15), 1)  # with ties
    assert oks_nms(kpts, scores, np.zeros(15), thr).tolist() == _mmpose_like_nms(kpts, scores, thr)


def test_results_wrappers_keep_arrays_consistent():
    gt_data, results = make_synthetic(5, SyntheticSpec(n_images=8, results_per_person=6))
    for rec in results[:5]:  # near-duplicates that OKS-NMS must remove
        results.append({**rec, "keypoints": [v + 0.1 for v in rec["keypoints"]]})
    for rec in results:
        rec["face_score"] = 0.5  # own field on every record: rescoring leaves the face ranking alone
    gt = load_ground_truth(gt_data)
    res = load_results(results, gt=gt)
    rescored = rescore_results(res)
    expected = rescore(res.keypoints[:, :, 2], res.scores["body"])
    np.testing.assert_array_equal(rescored.scores["body"], expected)
    np.testing.assert_array_equal(rescored.scores["wholebody"], expected)  # falls back to score
    np.testing.assert_array_equal(rescored.scores["face"], res.scores["face"])
    suppressed = oks_nms_results(rescored)
    assert 0 < len(suppressed.image_ids) < len(res.image_ids)
    keep = oks_nms(res.keypoints, expected, res.image_ids)
    np.testing.assert_array_equal(suppressed.keypoints, res.keypoints[keep])
    for part, values in suppressed.scores.items():
        np.testing.assert_array_equal(values, rescored.scores[part][keep])
    assert suppressed.score_fallback["face"] == 0
    assert suppressed.score_fallback["foot"] == len(keep)
