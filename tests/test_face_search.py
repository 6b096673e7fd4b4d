"""A person every person detector missed is found from the face: a body search below it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wholebody.experts.assemble.face_search import SEARCH_TRIES, face_is_taken, search_box

pytest.importorskip("ai_edge_litert")

PHOTOS = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "photos"


class _Nose:
    def __init__(self, x, y, score=0.9):
        self.keypoints = np.zeros((133, 3))
        self.keypoints[0] = [x, y, score]


def test_search_square_is_anchored_on_the_face_and_clipped():
    face = np.array([100.0, 50.0, 40.0, 40.0])
    side, above = SEARCH_TRIES[0]
    x, y, w, h = search_box(face, (400, 600, 3), side, above)
    assert x + w / 2 == pytest.approx(120.0) and w == pytest.approx(side * 40)  # centred on the face
    assert y == pytest.approx(50 - above * 40) and h == pytest.approx(side * 40)  # a square from above the face
    x, y, w, h = search_box(np.array([5.0, 380.0, 40.0, 40.0]), (400, 600, 3), side, above)
    assert x == 0 and y + h == 400  # clipped at the image's left and bottom edges


def test_a_face_is_taken_only_by_a_confident_nose_in_it():
    face = np.array([100.0, 50.0, 40.0, 40.0])
    assert face_is_taken(face, [_Nose(120, 70)])
    assert not face_is_taken(face, [_Nose(120, 70, score=0.1)])  # a guessed nose says nothing
    assert not face_is_taken(face, [_Nose(300, 70)])  # a person box around it is not enough: a nose is
    assert not face_is_taken(face, [])


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


def test_the_woman_behind_the_card_players_is_found_from_her_face():
    """insightface_t1.jpg: 6 people; a detector box covers the woman standing behind the second man,
    but its crop gives his body, so only her face, searched after duplicate removal, finds her."""
    from PIL import Image

    from wholebody.experts import WholeBodyEstimator
    from wholebody.experts.assemble.duplicates import same_skeleton
    from wholebody.experts.runtime.models import ModelNotPreparedError

    photo = PHOTOS / "insightface_t1.jpg"
    if not photo.is_file():
        pytest.skip(f"{photo} not found (../shared/media beside the repo)")
    image = np.asarray(Image.open(photo).convert("RGB"))
    her_face = np.array([0.246, 0.240]) * [image.shape[1], image.shape[0]]  # her face centre, by eye

    def bodies(face_search: bool) -> list:
        try:
            estimator = WholeBodyEstimator(num_threads=1, hand_zoom=False, face_search=face_search)
            people = estimator(image)
        except (ImportError, ModelNotPreparedError) as err:
            pytest.skip(f"models not prepared: {err}")
        return [p for p in people if p.part_scores["body"] > 0.1]

    def is_her(person) -> bool:
        nose = person.keypoints[0]
        return nose[2] > 0.5 and np.hypot(*(nose[:2] - her_face)) < 0.04 * image.shape[1]

    found = bodies(face_search=True)
    assert sum(is_her(p) for p in found) == 1, [np.round(p.keypoints[0]) for p in found]
    assert len(found) == 6
    assert not any(same_skeleton(a.keypoints, b.keypoints) for i, a in enumerate(found) for b in found[:i])
    assert not any(is_her(p) for p in bodies(face_search=False))  # the detectors alone miss her
