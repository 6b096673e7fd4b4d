"""A person every person detector missed is found from the face: a body search below it."""

from __future__ import annotations

import numpy as np
import pytest

from wholebody.experts.assemble.face_search import SEARCH_HEIGHT, face_search_boxes

pytest.importorskip("ai_edge_litert")


class _Face:
    def __init__(self, box, score=0.9):
        self.box, self.score = np.asarray(box, dtype=np.float64), score


def test_search_box_lies_below_an_unclaimed_face_and_is_clipped():
    faces = [_Face([100, 50, 40, 40]), _Face([400, 40, 30, 30]), _Face([250, 60, 40, 40], score=0.3)]
    person_boxes = np.array([[380.0, 0.0, 100.0, 300.0]])  # holds the second face
    boxes, scores = face_search_boxes(faces, person_boxes, (400, 600, 3))
    assert boxes.shape == (1, 4) and scores.shape == (1,)  # the claimed face and the weak one start nothing
    x, y, w, h = boxes[0]
    assert x < 120 < x + w and y < 50  # around and above the face
    assert y + h == pytest.approx(min(400.0, y + SEARCH_HEIGHT * 40))  # clipped to the image height
    assert 0 < scores[0] < 0.9  # ranked below detected people


@pytest.fixture(scope="module")
def astronaut():
    data = pytest.importorskip("skimage.data")
    return np.ascontiguousarray(data.astronaut())


def _nobody(image):
    return np.zeros((0, 4)), np.zeros(0)


def test_missed_person_is_found_from_the_face(astronaut):
    from wholebody.experts import WholeBodyEstimator
    from wholebody.schema import PART_SLICES

    found = WholeBodyEstimator(detector=_nobody, num_threads=1, body_model="full", hand_model="lite",
                               hand_mirror=False)(astronaut)
    bodies = [p for p in found if p.keypoints[PART_SLICES["body"], 2].max() > 0.5]
    assert len(bodies) == 1, "the face search found no body"
    nose, face_box = bodies[0].keypoints[0, :2], bodies[0].part_boxes["face"]
    assert face_box is not None
    x, y, w, h = face_box
    assert x <= nose[0] <= x + w and y <= nose[1] <= y + h  # the body's head is the face that started it
    without = WholeBodyEstimator(detector=_nobody, num_threads=1, body_model="full", hand_model="lite",
                                 hand_mirror=False, face_search=False)(astronaut)
    assert not any(p.keypoints[PART_SLICES["body"], 2].max() > 0.5 for p in without)
