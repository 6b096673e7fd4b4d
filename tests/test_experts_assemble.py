"""33 -> 133 body mapping, hand and face blocks, fusion, small toes and scores of assembled people."""

from __future__ import annotations

import numpy as np
import pytest

from wholebody.experts.assemble.fusion import claimed_heads, fuse_body
from wholebody.experts.assemble.hand_assembly import HandAssembler
from wholebody.experts.assemble.person import attach_faces, body_person, finish_scores
from wholebody.experts.crops import SquareCrop
from wholebody.experts.landmarks.body import BodyLandmarks, body_to_wholebody
from wholebody.experts.landmarks.face import FaceLandmarks
from wholebody.experts.landmarks.feet import small_toes
from wholebody.experts.landmarks.hands import HandLandmarks
from wholebody.schema import FACEMESH_TO_IBUG68, KEYPOINT_NAMES, PART_SLICES
from wholebody.schema.mediapipe import POSE33_NAMES

CROP = SquareCrop(center=(0.0, 0.0), side=100.0, angle=0.0, size=100)


def make_body(offset=0.0, visibility=0.9) -> BodyLandmarks:
    """Distinct, recognisable landmarks: point i sits at (offset + 10 i, 3 i)."""
    i = np.arange(33, dtype=float)
    world = np.stack([i / 100.0, -i / 50.0, i / 200.0], axis=1)
    return BodyLandmarks(points=np.stack([offset + 10 * i, 3 * i], axis=1), visibility=np.full(33, visibility),
                         presence=np.ones(33), world=world, score=0.95, crop=CROP, aux=np.zeros((2, 2)))


def make_hand(wrist_xy, presence=0.9) -> HandLandmarks:
    points = np.asarray(wrist_xy, float) + np.stack([np.arange(21.0), -np.arange(21.0)], axis=1)
    return HandLandmarks(points=points, presence=presence, right=0.5, world=np.arange(63.0).reshape(21, 3) / 100,
                         crop=CROP)


def test_body_points_follow_the_pose33_names():
    body = make_body()
    points23, world23 = body_to_wholebody(body)
    renamed = {"left_big_toe": "left_foot_index", "right_big_toe": "right_foot_index"}
    for k, name in enumerate(KEYPOINT_NAMES[:23]):
        if "small_toe" in name:
            continue
        source = POSE33_NAMES.index(renamed.get(name, name))
        np.testing.assert_allclose(points23[k, :2], body.points[source])
        np.testing.assert_allclose(world23[k], body.world[source])
        assert points23[k, 2] == pytest.approx(0.9)


def test_small_toes_sit_on_the_big_toes_with_score_zero():
    points23, world23 = small_toes(*body_to_wholebody(make_body()))
    for small, big in ((18, 17), (21, 20)):
        np.testing.assert_allclose(points23[small, :2], points23[big, :2])
        assert points23[small, 2] == 0.0


def test_geometric_small_toes_are_lateral_and_down_weighted():
    points23, world23 = body_to_wholebody(make_body())
    world23[11], world23[12] = [0.1, 0.0, 0.0], [-0.1, 0.0, 0.0]  # person's left is +x
    for heel, big in ((19, 17), (22, 20)):
        world23[heel] = world23[big] + [0.0, 0.0, -0.25]  # feet point along +z, big toe ahead of the heel
    out, world = small_toes(points23, world23, method="geometric")
    assert world[18, 0] > world23[17, 0] and world[21, 0] < world23[20, 0]  # left toe to the left, right to the right
    assert 0 < out[18, 2] < points23[17, 2]


def test_fusion_averages_agreeing_points_and_keeps_the_surer_one_otherwise():
    points23, _ = body_to_wholebody(make_body(visibility=0.5))
    prior = np.concatenate([points23[:17, :2] + 2.0, np.full((17, 1), 0.5)], axis=1)
    fused = fuse_body(points23, prior)
    np.testing.assert_allclose(fused[:17, :2], points23[:17, :2] + 1.0, atol=0.01)
    prior[3, :2] += 1000.0
    prior[3, 2] = 0.9
    np.testing.assert_allclose(fuse_body(points23, prior)[3, :2], prior[3, :2])
    np.testing.assert_allclose(fuse_body(points23, None), points23)
    with pytest.raises(ValueError, match="17, 3"):
        fuse_body(points23, np.zeros((13, 3)))


def _head17(centre, score=0.8, spread=6.0):
    """(17, 3) COCO points: nose, eyes, ears around ``centre``, the rest 100 px below it."""
    points = np.zeros((17, 3))
    offsets = [(0, 0), (spread, -spread), (-spread, -spread), (2 * spread, 0), (-2 * spread, 0)]
    points[:5, :2] = np.asarray(centre, float) + offsets
    points[5:, :2] = np.asarray(centre, float) + [0.0, 100.0]
    points[:, 2] = score
    return points


def test_a_head_on_another_persons_detector_head_is_claimed():
    """Person 0's body expert put his head on person 1's; the detector keeps the two apart."""
    body0, body1 = _head17((340, 85)), _head17((342, 88))
    priors = np.stack([_head17((330, 120)), _head17((340, 86))])
    assert claimed_heads([body0, body1], priors) == [True, False]


def test_heads_are_not_claimed_without_clear_evidence():
    body0, body1 = _head17((340, 85)), _head17((342, 88))
    agreeing = np.stack([_head17((343, 86)), _head17((340, 86))])  # own detector head agrees
    assert claimed_heads([body0, body1], agreeing) == [False, False]
    unsure = np.stack([_head17((330, 120), score=0.1), _head17((340, 86))])  # own detector head unsure
    assert claimed_heads([body0, body1], unsure) == [False, False]
    alone = np.stack([_head17((330, 120)), _head17((500, 300))])  # nobody else's head is nearer
    assert claimed_heads([body0, _head17((500, 300))], alone) == [False, False]
    assert claimed_heads([body0, body1], None) == [False, False]
    assert claimed_heads([body0], priors=np.stack([_head17((330, 120))])) == [False]


def test_hands_fill_their_side_blocks_and_3d_is_wrist_relative():
    person = body_person(make_body(), np.array([0, 0, 400, 200.0]))
    left_wrist, right_wrist = person.keypoints[9, :2], person.keypoints[10, :2]
    # The toy wrists lie 10 px apart: the weak right-crop hand is drawn 30 px off, clear of the left one
    # (a weak crop hand on the box of a hand another slot took is not copied: test_hand_assembly).
    hands = [(0, "left", make_hand(left_wrist + 1)), (0, "right", make_hand(right_wrist + (30.0, 0.0), presence=0.2))]
    HandAssembler()(np.zeros((200, 400, 3), np.uint8), [person], hands)
    np.testing.assert_allclose(person.part("lefthand")[:, :2], hands[0][2].points)
    np.testing.assert_allclose(person.part("righthand")[:, 2], 0.2)
    np.testing.assert_allclose(person.keypoints_3d["lefthand"][0], 0.0)
    assert person.part_boxes["lefthand"] is not None
    assert person.part_boxes["righthand"] is None  # presence below 0.5: points kept, no box


def test_face_block_is_the_mapped_mesh_and_scores_are_finished():
    person = body_person(make_body(), np.array([0, 0, 400, 200.0]))
    nose = person.keypoints[0, :2]
    mesh = np.zeros((468, 3))
    mesh[:, :2] = nose + np.random.default_rng(1).uniform(-20, 20, size=(468, 2))
    face = FaceLandmarks(mesh=mesh, presence=0.97, crop=CROP)
    attach_faces([person], [(0, face)])
    np.testing.assert_allclose(person.keypoints[PART_SLICES["face"], :2], mesh[FACEMESH_TO_IBUG68, :2])
    assert person.keypoints_3d["face"].shape == (68, 3)
    np.testing.assert_allclose(person.keypoints_3d["face"].mean(axis=0), 0.0, atol=1e-12)
    finish_scores([person], [0.5])
    assert person.score == pytest.approx(0.5 * person.part_scores["body"])
    assert 0.0 < person.part_scores["wholebody"] < person.score
    assert set(person.part_scores) >= {"body", "foot", "face", "lefthand", "righthand"}


def test_a_claimed_head_takes_the_detectors_finite_points():
    """The estimator swaps a claimed head and its upper body for the detector's; a non-finite
    detector head point gets the centre of the others at score 0 (other points keep the body
    expert's), and the face crop uses only the finite ones."""
    from wholebody.experts.assemble.estimator import WholeBodyEstimator

    people = [body_person(make_body(), np.array([0, 0, 400, 200.0])),
              body_person(make_body(offset=300.0), np.array([300, 0, 400, 200.0]))]
    people[0].keypoints[:5, :2] = people[1].keypoints[:5, :2] + 1.0  # person 0's head on person 1's
    own = _head17((120, 150))
    own[3] = np.nan  # a detector that lost one ear ...
    own[10] = np.nan  # ... and the right wrist
    expert = people[0].keypoints.copy()
    priors = [own, np.concatenate([people[1].keypoints[:17, :2], np.full((17, 1), 0.8)], axis=1)]
    heads = WholeBodyEstimator._heads(people, [make_body(), make_body(offset=300.0)], priors)
    assert len(heads[0]) == 4 and len(heads[1]) == 11  # detector's finite 4 vs BlazePose's 11
    head0 = people[0].keypoints[:5]
    assert np.isfinite(head0).all() and head0[3, 2] == 0.0
    np.testing.assert_allclose(head0[[0, 1, 2, 4]], own[[0, 1, 2, 4]])
    np.testing.assert_allclose(people[0].keypoints[5:10], own[5:10])  # shoulders, elbows, left wrist
    np.testing.assert_allclose(people[0].keypoints[10:], expert[10:])  # right wrist, hips, legs, ...
    np.testing.assert_allclose(people[1].keypoints[:11, :2], make_body(offset=300.0).points[[0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16]])
