"""DOPE's whole-body assembly rules on hand-built cases (hands by wrists, faces by head point)."""

from __future__ import annotations

import numpy as np

from wholebody.experts.assemble.association import (box_iou, grow_box, grown_box_size, match_faces, match_hands,
                                                    unique_parts)

LEFT, RIGHT = 0, 1


def _bodies(*wrist_pairs):
    """(B, 2, 2) wrists from ((left xy), (right xy)) per body, all valid."""
    wrists = np.array(wrist_pairs, dtype=float)
    return wrists, np.ones(wrists.shape[:2], dtype=bool)


def test_hand_size_is_the_grown_longer_side():
    assert grown_box_size(np.array([[0.0, 0.0], [10.0, 4.0]])) == 12.0


def test_mutual_nearest_hands_attach_to_their_wrists():
    wrists, valid = _bodies(((0, 0), (100, 0)), ((300, 0), (400, 0)))
    hand_wrists = np.array([[2, 1], [98, 0], [303, 0], [401, 2]], float)
    sides = np.array([LEFT, RIGHT, LEFT, RIGHT])
    pairs = match_hands(wrists, valid, hand_wrists, sides, np.full(4, 20.0))
    assert pairs == {(0, LEFT): 0, (0, RIGHT): 1, (1, LEFT): 2, (1, RIGHT): 3}


def test_hand_side_is_respected():
    """A right hand right at a left wrist is not given to that left wrist."""
    wrists, valid = _bodies(((0, 0), (200, 0)))
    pairs = match_hands(wrists, valid, np.array([[1.0, 0.0]]), np.array([RIGHT]), np.array([20.0]))
    assert pairs == {}


def test_hand_too_far_stays_unattached():
    wrists, valid = _bodies(((0, 0), (500, 0)))
    pairs = match_hands(wrists, valid, np.array([[30.0, 0.0]]), np.array([LEFT]), np.array([20.0]))
    assert pairs == {}
    assert match_hands(wrists, valid, np.array([[30.0, 0.0]]), np.array([LEFT]), np.array([20.0]), margin=2.0) == {(0, LEFT): 0}


def test_only_the_mutually_nearest_body_gets_a_contested_hand():
    """Two left wrists near one left hand: the nearer body takes it, the other gets nothing."""
    wrists, valid = _bodies(((0, 0), (900, 0)), ((15, 0), (990, 0)))
    pairs = match_hands(wrists, valid, np.array([[12.0, 0.0]]), np.array([LEFT]), np.array([40.0]))
    assert pairs == {(1, LEFT): 0}


def test_invalid_wrist_takes_no_hand():
    wrists, valid = _bodies(((0, 0), (100, 0)))
    valid[0, LEFT] = False
    assert match_hands(wrists, valid, np.array([[0.0, 0.0]]), np.array([LEFT]), np.array([20.0])) == {}


def test_face_goes_to_the_body_whose_head_is_inside_its_box():
    heads = np.array([[50.0, 50.0], [200.0, 50.0]])
    faces = [np.array([180.0, 30.0, 40.0, 40.0]), np.array([30.0, 30.0, 40.0, 40.0])]
    assert match_faces(heads, np.array([True, True]), faces) == {0: 1, 1: 0}


def test_face_containing_two_heads_is_given_to_nobody():
    heads = np.array([[50.0, 50.0], [60.0, 50.0]])
    assert match_faces(heads, np.array([True, True]), [np.array([30.0, 30.0, 40.0, 40.0])]) == {}


def test_head_inside_two_faces_gets_none_and_unknown_head_gets_none():
    heads = np.array([[50.0, 50.0]])
    faces = [np.array([30.0, 30.0, 40.0, 40.0]), np.array([40.0, 40.0, 40.0, 40.0])]
    assert match_faces(heads, np.array([True]), faces) == {}
    assert match_faces(heads, np.array([False]), faces[:1]) == {}


def test_face_box_margin_admits_a_head_just_outside():
    box = np.array([0.0, 0.0, 100.0, 100.0])
    np.testing.assert_allclose(grow_box(box, 0.1), [-10.0, -10.0, 120.0, 120.0])
    assert match_faces(np.array([[105.0, 50.0]]), np.array([True]), [box]) == {0: 0}


def test_unique_parts_drops_the_weaker_duplicate():
    boxes = [np.array([0.0, 0.0, 10.0, 10.0]), np.array([1.0, 1.0, 10.0, 10.0]), np.array([50.0, 50.0, 10.0, 10.0])]
    assert box_iou(boxes[0], boxes[1]) > 0.5
    assert unique_parts(boxes, [0.2, 0.9, 0.1]) == [1, 2]
