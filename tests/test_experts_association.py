"""DOPE's whole-body assembly rules on hand-built cases (faces by head point; hands: test_hand_assembly)."""

from __future__ import annotations

import numpy as np

from wholebody.experts.assemble.association import box_iou, grow_box, match_faces, unique_parts

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
