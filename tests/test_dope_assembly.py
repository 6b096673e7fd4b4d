"""Whole-body assembly of DOPE part detections: side-respecting hands, faces by head point."""

import numpy as np

from wholebody.models.dope.assembly import NO_MATCH, assemble, assign_faces, assign_hands, hand_size, make_person, probability
from wholebody.models.dope.layout import PAPER, WHOLEBODY
from wholebody.models.dope.post import PartDetection
from wholebody.schema import PART_SLICES

LEFT_WRIST, RIGHT_WRIST = WHOLEBODY.body_wrists


def body(left_wrist, right_wrist, head=(0.0, 0.0), score=1.0):
    pose = np.zeros((23, 2))
    pose[LEFT_WRIST], pose[RIGHT_WRIST], pose[WHOLEBODY.body_head] = left_wrist, right_wrist, head
    return PartDetection("body", score, pose, np.zeros((23, 3)), np.array([0.0, 0.0, 100.0, 100.0]))


def hand(wrist, is_right, size=20.0):
    pose = np.tile(np.asarray(wrist, float), (21, 1))
    pose[1:] += np.linspace(0, size / 1.2, 20)[:, None]  # pose box with 10 % margin per side = size
    return PartDetection("hand", 0.8, pose, np.zeros((21, 3)), np.array([0.0, 0.0, 10.0, 10.0]), is_right)


def face(center, half=10.0):
    pose = np.asarray(center, float) + np.linspace(-half, half, 68)[:, None]
    return PartDetection("face", 0.7, pose, np.zeros((68, 3)), np.array([0.0, 0.0, 5.0, 5.0]))


def test_hand_size():
    assert np.isclose(hand_size(hand((0, 0), True, size=30).pose2d), 30.0)


def test_hands_go_to_wrists_of_their_own_side():
    bodies = [body(left_wrist=(100, 100), right_wrist=(10, 100))]
    # a right hand sits exactly on the LEFT wrist: the public code would attach it there
    hands = [hand((100, 100), is_right=True), hand((12, 100), is_right=True)]
    assert assign_hands(bodies, hands, WHOLEBODY).tolist() == [[NO_MATCH, 1]]
    hands.append(hand((101, 100), is_right=False))
    assert assign_hands(bodies, hands, WHOLEBODY).tolist() == [[2, 1]]


def test_hand_beyond_its_size_is_not_attached():
    bodies = [body((0, 0), (100, 0))]
    assert assign_hands(bodies, [hand((125, 0), True, size=20)], WHOLEBODY).tolist() == [[NO_MATCH, NO_MATCH]]
    assert assign_hands(bodies, [hand((115, 0), True, size=20)], WHOLEBODY).tolist() == [[NO_MATCH, 0]]


def test_public_rule_hands_need_mutual_nearest():
    # both bodies' right wrists are nearest to hand 0; only body 1 (closer) gets it
    bodies = [body((500, 500), (0, 0)), body((600, 600), (8, 0))]
    hands = [hand((10, 0), True, size=40), hand((300, 300), True, size=40)]
    assert assign_hands(bodies, hands, WHOLEBODY, by_score=False).tolist() == [[NO_MATCH, NO_MATCH], [NO_MATCH, 0]]


def test_public_rule_faces_need_exactly_one_box_both_ways():
    bodies = [body((0, 0), (0, 0), head=(50, 50)), body((0, 0), (0, 0), head=(200, 200))]
    assert assign_faces(bodies, [face((50, 50)), face((200, 205))], WHOLEBODY, by_score=False).tolist() == [0, 1]
    # body 0's head lies in two face boxes -> ambiguous, none
    assert assign_faces(bodies, [face((50, 50)), face((52, 52))], WHOLEBODY, by_score=False).tolist() == [NO_MATCH, NO_MATCH]
    # both heads inside one big face box -> none
    assert assign_faces(bodies, [face((125, 125), half=100)], WHOLEBODY, by_score=False).tolist() == [NO_MATCH, NO_MATCH]


def test_duplicate_body_leaves_parts_to_the_most_confident_copy():
    # PPI can keep a low-score duplicate of a body at the same spot: under the public rule it
    # blocks the face (two heads in one box); by score the confident copy takes hand and face
    bodies = [body((0, 0), (100, 100), head=(50, 10), score=0.2), body((0, 0), (101, 100), head=(51, 10), score=3.0)]
    hands, faces = [hand((102, 100), True)], [face((50, 10))]
    assert assign_hands(bodies, hands, WHOLEBODY).tolist() == [[NO_MATCH, NO_MATCH], [NO_MATCH, 0]]
    assert assign_faces(bodies, faces, WHOLEBODY).tolist() == [NO_MATCH, 0]
    assert assign_faces(bodies, faces, WHOLEBODY, by_score=False).tolist() == [NO_MATCH, NO_MATCH]


def test_by_score_each_part_goes_to_one_body_and_each_body_takes_its_nearest():
    # body 0 (higher score) takes the nearer of the two right hands; body 1 the other one
    bodies = [body((0, 0), (0, 0), head=(50, 50), score=2.0), body((0, 0), (30, 0), head=(58, 50), score=1.0)]
    hands = [hand((35, 0), True, size=40), hand((5, 0), True, size=40)]
    assert assign_hands(bodies, hands, WHOLEBODY).tolist() == [[NO_MATCH, 1], [NO_MATCH, 0]]
    # two face boxes hold both heads: each body takes the face whose centre is nearest, once
    faces = [face((59, 50)), face((49, 50))]
    assert assign_faces(bodies, faces, WHOLEBODY).tolist() == [1, 0]
    # a face box that holds no head is never attached
    assert assign_faces(bodies, [face((300, 300))], WHOLEBODY).tolist() == [NO_MATCH, NO_MATCH]


def test_empty_parts():
    assert assign_hands([], [hand((0, 0), True)], WHOLEBODY).shape == (0, 2)
    assert assign_faces([body((0, 0), (0, 0))], [], WHOLEBODY).tolist() == [NO_MATCH]
    assert assemble({"body": [], "hand": [], "face": []}, WHOLEBODY) == []
    people = assemble({"body": [body((0, 0), (0, 0))]}, WHOLEBODY)
    assert len(people) == 1 and people[0].part_boxes == {"face": None, "lefthand": None, "righthand": None}


def test_assemble_places_parts_in_the_133_layout():
    bodies = [body(left_wrist=(100, 100), right_wrist=(10, 100), head=(50, 20), score=2.0)]
    parts = {"body": bodies, "hand": [hand((101, 100), False), hand((11, 100), True), hand((900, 900), True)],
             "face": [face((50, 20))]}
    people = assemble(parts, WHOLEBODY)
    assert len(people) == 2  # the far hand becomes a person of its own
    person, orphan = people
    assert np.isclose(person.score, probability(2.0)) and 0 <= person.score < 1
    assert np.allclose(person.keypoints[PART_SLICES["lefthand"]][0, :2], (101, 100))
    assert np.allclose(person.keypoints[PART_SLICES["righthand"]][0, :2], (11, 100))
    assert np.allclose(person.keypoints[PART_SLICES["face"]][:, :2], parts["face"][0].pose2d)
    assert person.keypoints[LEFT_WRIST, 0] == 100  # not overwritten by default
    assert set(person.keypoints_3d) == {"body", "lefthand", "righthand", "face"}
    assert person.keypoints_3d["body"].shape == (23, 3) and person.keypoints_3d["face"].shape == (68, 3)
    assert person.part_boxes["lefthand"] is not None
    assert orphan.part_scores["body"] == 0 and orphan.keypoints[PART_SLICES["body"], 2].max() == 0
    assert orphan.keypoints[PART_SLICES["righthand"], 2].min() > 0
    assert len(assemble(parts, WHOLEBODY, keep_unassigned=False)) == 1
    overwritten = assemble(parts, WHOLEBODY, overwrite_wrists=True)[0]
    assert overwritten.keypoints[LEFT_WRIST, 0] == 101


def test_paper_layout_maps_to_133():
    pose = np.arange(26, dtype=float).reshape(13, 2)
    det = PartDetection("body", 1.0, pose, np.ones((13, 3)), np.zeros(4))
    person = make_person(det, None, None, None, PAPER)
    # DOPE body joint 0 is the right ankle (COCO-WholeBody 16); the head top has no slot
    assert np.allclose(person.keypoints[16, :2], pose[0])
    assert (person.keypoints[:, 2] > 0).sum() == 12
    assert person.keypoints_3d["body"].shape == (23, 3)
