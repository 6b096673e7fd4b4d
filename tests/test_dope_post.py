"""PPI and NMS post-processing of DOPE outputs, on hand-built proposals."""

import numpy as np
import pytest

from wholebody.models.dope.post import PartDetection, detect_parts, pose_boxes, pose_nms, ppi


def _proposals(boxes, scores, poses2d, poses3d):
    """Arrays for N proposals and K classes; every class of a proposal shares its pose."""
    boxes = np.asarray(boxes, float)
    scores = np.asarray(scores, float)
    k = scores.shape[1] - 1
    pose2d = np.repeat(np.asarray(poses2d, float)[:, None], k, axis=1)
    pose3d = np.repeat(np.asarray(poses3d, float)[:, None], k, axis=1)
    return boxes, scores, pose2d, pose3d


def _pose(value, joints=2):
    return np.full((joints, 2), float(value)), np.full((joints, 3), float(value) / 100)


def test_grouping_by_box_overlap_and_score_weighting():
    # proposals 0-2 overlap (IoU > 0.2), proposal 3 is far away; one class (K = 1)
    boxes = [[0, 0, 10, 10], [1, 1, 11, 11], [2, 0, 12, 10], [100, 100, 110, 110]]
    scores = [[0.4, 0.6], [0.7, 0.3], [0.9, 0.1], [0.5, 0.5]]
    p2d, p3d = zip(*[_pose(v) for v in (10, 20, 40, 500)])
    dets = ppi("body", *_proposals(boxes, scores, p2d, p3d), th_pose3d=1.0)
    assert len(dets) == 2
    first, second = dets
    assert first.score == pytest.approx(1.0)  # 0.6 + 0.3 + 0.1
    expected = (0.6 * 10 + 0.3 * 20 + 0.1 * 40) / 1.0
    assert np.allclose(first.pose2d, expected) and np.allclose(first.pose3d, expected / 100)
    assert np.allclose(first.box, boxes[0])
    assert second.score == pytest.approx(0.5) and np.allclose(second.pose2d, 500)


def test_modes_split_by_3d_distance_and_best_cumulative_mode_wins():
    boxes = [[0, 0, 10, 10]] * 3
    scores = [[0.4, 0.6], [0.5, 0.5], [0.6, 0.4]]
    # candidate 0 is alone in 3D (1 m away); candidates 1 and 2 form a mode worth 0.9 > 0.6
    p2d = [np.full((2, 2), 0.0), np.full((2, 2), 10.0), np.full((2, 2), 20.0)]
    p3d = [np.full((2, 3), 1.0), np.zeros((2, 3)), np.full((2, 3), 0.01)]
    (det,) = ppi("body", *_proposals(boxes, scores, p2d, p3d))
    assert det.score == pytest.approx(0.9)
    assert np.allclose(det.pose2d, (0.5 * 10 + 0.4 * 20) / 0.9)
    assert np.allclose(det.box, boxes[1])


def test_score_threshold_and_detection_threshold():
    boxes = [[0, 0, 10, 10]]
    p2d, p3d = zip(_pose(1))
    # K = 4: default score_th = 0.025; all classes below it -> nothing
    assert ppi("face", *_proposals(boxes, [[0.92, 0.02, 0.02, 0.02, 0.02]], p2d, p3d)) == []
    assert len(ppi("face", *_proposals(boxes, [[0.92, 0.02, 0.02, 0.02, 0.02]], p2d, p3d), score_th=0.01)) == 1
    assert ppi("face", *_proposals(boxes, [[0.5, 0.5]], p2d, p3d), th_detect=0.6) == []


def test_empty_inputs_give_no_detection():
    boxes, scores = np.zeros((0, 4)), np.zeros((0, 3))
    pose2d, pose3d = np.zeros((0, 2, 21, 2)), np.zeros((0, 2, 21, 3))
    assert ppi("hand", boxes, scores, pose2d, pose3d, hand_classes_per_side=1) == []
    assert pose_nms("hand", boxes, scores, pose2d, pose3d, hand_classes_per_side=1) == []


def test_hand_side_comes_from_the_best_candidate_of_the_mode():
    # K = 4 hand classes: 0-1 right, 2-3 left.  Best candidate is class 2 (left).
    boxes = [[0, 0, 10, 10], [0, 0, 10, 11]]
    scores = [[0.1, 0.3, 0.0, 0.6, 0.0], [0.5, 0.0, 0.4, 0.1, 0.0]]
    p2d, p3d = zip(*[_pose(0), _pose(1)])
    (det,) = ppi("hand", *_proposals(boxes, scores, p2d, p3d), hand_classes_per_side=2)
    assert det.is_right is False
    (det,) = ppi("hand", *_proposals(boxes, [[0.1, 0.0, 0.9, 0.0, 0.0]] * 2, p2d, p3d), hand_classes_per_side=2)
    assert det.is_right is True
    with pytest.raises(ValueError, match="hand_classes_per_side"):
        ppi("hand", *_proposals(boxes, scores, p2d, p3d))


def test_upper_body_classes_count_less_on_lower_joints():
    # classes 0 (full body) and 1 (upper body, == upper_body_from: must be down-weighted too)
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], float)
    scores = np.array([[0.0, 0.5, 0.0], [0.0, 0.0, 0.5]])
    pose2d = np.zeros((2, 2, 2, 2))
    pose2d[0, 0] = 0.0
    pose2d[1, 1] = 10.0
    pose3d = np.zeros((2, 2, 2, 3))
    (det,) = ppi("body", boxes, scores, pose2d, pose3d, upper_body_from=1, lower_body_joints=(0,))
    assert np.allclose(det.pose2d[0], 10 * 0.05 / 0.55)  # lower joint: weights 0.5 and 0.05
    assert np.allclose(det.pose2d[1], 5.0)  # upper joint: plain score weights


def test_nms_keeps_best_per_pose_box_and_sets_side_per_detection():
    boxes = [[0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60], [0, 0, 5, 5]]
    scores = [[0.1, 0.9, 0.0], [0.3, 0.0, 0.7], [0.2, 0.0, 0.8], [0.8, 0.1, 0.1]]
    pose_a = np.array([[0.0, 0.0], [10.0, 10.0]])
    p2d = [pose_a, pose_a + 1, pose_a + 50, pose_a]
    p3d = [np.zeros((2, 3))] * 4
    dets = pose_nms("hand", *_proposals(boxes, scores, p2d, p3d), hand_classes_per_side=1)
    assert [d.score for d in dets] == pytest.approx([0.9, 0.8])  # 0.7 suppressed; 0.1 below min_score
    assert [d.is_right for d in dets] == [True, False]


def test_pose_boxes_margin():
    box = pose_boxes(np.array([[0.0, 0.0], [10.0, 20.0]]))
    assert np.allclose(box, [-1, -2, 11, 22])


def test_detect_parts_dispatch():
    import torch

    out = {"boxes": torch.tensor([[0.0, 0.0, 10.0, 10.0]])}
    for part, k in (("body", 1), ("hand", 2), ("face", 1)):
        out[f"{part}_scores"] = torch.tensor([[0.2] + [0.8 / k] * k])
        out[f"{part}_pose2d"] = torch.zeros((1, k, 3, 2))
        out[f"{part}_pose3d"] = torch.zeros((1, k, 3, 3))
    dets = detect_parts(out, ("body", "hand", "face"), hand_classes_per_side=1)
    assert {p: len(d) for p, d in dets.items()} == {"body": 1, "hand": 1, "face": 1}
    assert isinstance(dets["hand"][0], PartDetection) and dets["hand"][0].is_right is True
    assert len(detect_parts(out, ("body",), 1, method="nms", part_kwargs={"body": {"min_score": 0.9}})["body"]) == 0
    with pytest.raises(ValueError, match="ppi"):
        detect_parts(out, ("body",), 1, method="other")


def test_nms_default_keeps_people_whose_pose_boxes_overlap_moderately():
    # two people side by side: pose boxes overlap with IoU ~0.33 -- DOPE's 0.1 would drop one
    boxes = [[0, 0, 100, 200], [50, 0, 150, 200]]
    scores = [[0.1, 0.9], [0.2, 0.8]]
    pose = np.array([[0.0, 0.0], [100.0, 200.0]])
    dets = pose_nms("body", *_proposals(boxes, scores, [pose, pose + [50.0, 0.0]], [np.zeros((2, 3))] * 2))
    assert [d.score for d in dets] == pytest.approx([0.9, 0.8])
    assert len(pose_nms("body", *_proposals(boxes, scores, [pose, pose + [50.0, 0.0]], [np.zeros((2, 3))] * 2), iou=0.1)) == 1


def test_mje_overlap_separates_people_whose_proposals_overlap():
    # two side-by-side people: proposal IoU 0.33 > 0.2, so 'bbox' makes one instance of them;
    # under 'mje' the mean joint distance (50 px) / (2 x 100 + 1) = 0.25 is above th_iou 0.1
    boxes = [[0, 0, 100, 100], [50, 0, 150, 100]]
    scores = [[0.1, 0.9], [0.2, 0.8]]
    pose = np.array([[10.0, 10.0], [90.0, 90.0]])
    p3d = [np.zeros((2, 3)), np.zeros((2, 3))]  # same root-relative 3D: modes cannot tell them apart
    arrays = _proposals(boxes, scores, [pose, pose + [50.0, 0.0]], p3d)
    assert len(ppi("body", *arrays)) == 1
    people = ppi("body", *arrays, overlap="mje", th_iou=0.1)
    assert [d.score for d in people] == pytest.approx([0.9, 0.8])
    np.testing.assert_allclose(people[1].pose2d, pose + [50.0, 0.0])
    with pytest.raises(ValueError, match="mje"):
        ppi("body", *arrays, overlap="pose")
