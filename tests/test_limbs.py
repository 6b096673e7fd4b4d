"""Limb points that are not their person's (``experts.assemble.limbs``): on faces, shared forearms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wholebody.experts.assemble.association import inside
from wholebody.experts.assemble.limbs import (
    ELBOWS, NOT_MINE_SCORE, OWN_FACE_OK, SAME_FOREARM, SHOWN_SCORE, WRISTS, limbs_off_faces, shared_arm, shared_forearms)

PHOTOS = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "photos"

# A standing person, COCO body order (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles),
# pixels; the face spans x 40-60, y 0-20.
STANDING = np.array([[50, 10], [53, 8], [47, 8], [57, 10], [43, 10], [62, 30], [38, 30], [66, 55], [34, 55],
                     [68, 78], [32, 78], [58, 80], [42, 80], [58, 115], [42, 115], [58, 150], [42, 150]], float)
FACE = np.array([40.0, 0.0, 20.0, 20.0])


class _Person:
    def __init__(self, body17: np.ndarray, score: float = 0.9):
        self.keypoints = np.zeros((133, 3))
        self.keypoints[:17, :2] = body17
        self.keypoints[:17, 2] = score


def test_shoulders_on_own_face_take_the_detector_points_and_a_limb_on_a_neighbours_face_is_demoted():
    me = _Person(STANDING.copy())
    me.keypoints[[5, 6], :2] = [[55, 15], [45, 15]]  # shoulders collapsed onto the chin
    me.keypoints[9, :2] = [52, 14]  # a hand on the own chin: fine
    neighbour = _Person(STANDING + [100, 0])
    neighbour.keypoints[8, :2] = [50, 12]  # its elbow on my face
    prior = np.column_stack([STANDING, np.full(17, 0.6)])
    changed = limbs_off_faces([me, neighbour], [prior, None], [FACE, FACE + [100, 0, 0, 0]])
    assert changed == 3
    assert np.allclose(me.keypoints[[5, 6], :2], STANDING[[5, 6]])  # the detector's shoulders, off the face
    assert me.keypoints[9, 2] == pytest.approx(0.9) and 9 in OWN_FACE_OK
    assert neighbour.keypoints[8, 2] == NOT_MINE_SCORE  # no detector point for it: demoted
    assert (neighbour.keypoints[[5, 6, 7, 9, 10], 2] > NOT_MINE_SCORE).all()  # its other limbs stay


def test_a_detector_point_on_a_face_too_is_not_taken():
    me = _Person(STANDING.copy())
    me.keypoints[[5, 6], :2] = [[55, 15], [45, 15]]
    prior = np.column_stack([STANDING, np.full(17, 0.6)])
    prior[5, :2] = [56, 16]  # the detector made the same mistake on one of them
    limbs_off_faces([me], [prior], [FACE])
    assert me.keypoints[5, 2] == NOT_MINE_SCORE and np.allclose(me.keypoints[5, :2], [55, 15])
    assert np.allclose(me.keypoints[6], prior[6])


def test_one_shoulder_at_the_own_chin_stays_and_a_face_nobody_owns_moves_nothing():
    me = _Person(STANDING.copy())
    me.keypoints[5, :2] = [55, 18]  # looking over the left shoulder
    me.keypoints[7, :2] = [60, 45]
    badge = np.array([55.0, 40.0, 15.0, 15.0])  # a false face on the chest, around the elbow: no nose in it
    assert limbs_off_faces([me], [None], [FACE, badge]) == 0
    assert (me.keypoints[5:17, 2] == pytest.approx(0.9))


def test_a_shared_forearm_stays_with_the_person_whose_elbow_does_not_reach_into_the_other():
    owner = _Person(STANDING.copy())
    borrower = _Person(STANDING + [60, 0])  # stands to the right; its right elbow reaches into the owner's torso
    borrower.keypoints[ELBOWS[1], :2] = owner.keypoints[ELBOWS[0], :2] + [-5, 3]
    borrower.keypoints[WRISTS[1], :2] = owner.keypoints[WRISTS[0], :2] + [2, -2]
    assert inside(borrower.keypoints[ELBOWS[1], :2], np.array([38.0, 30.0, 24.0, 50.0]))  # the owner's torso
    assert shared_forearms([owner, borrower]) == 1
    assert (borrower.keypoints[[ELBOWS[1], WRISTS[1]], 2] == NOT_MINE_SCORE).all()
    assert (owner.keypoints[[ELBOWS[0], WRISTS[0]], 2] > NOT_MINE_SCORE).all()
    apart = _Person(STANDING + [60, 0])
    assert shared_forearms([_Person(STANDING.copy()), apart]) == 0  # side by side, nothing shared


def test_an_upper_arm_whose_wrist_is_not_shown_is_shared_too():
    owner = _Person(STANDING.copy())
    owner.keypoints[[ELBOWS[0], WRISTS[0]], :2] = [[63, 55], [64, 78]]  # the left arm hangs straight down
    borrower = _Person(STANDING + [60, 0])  # stands behind to the right, its right arm hidden
    borrower.keypoints[6, :2] = [69, 30]  # its right shoulder just beside the owner's left one
    borrower.keypoints[ELBOWS[1], :2] = [62, 57]  # its elbow on the owner's, inside the owner's torso
    borrower.keypoints[WRISTS[1], 2] = 0.2  # not shown
    assert shared_arm(borrower.keypoints, 1, owner.keypoints, 0)
    assert shared_forearms([owner, borrower]) == 1
    assert (borrower.keypoints[[ELBOWS[1], WRISTS[1]], 2] == NOT_MINE_SCORE).all()


@pytest.fixture(scope="module")
def estimator():
    pytest.importorskip("ai_edge_litert", reason="the part experts run the models with ai-edge-litert")
    from wholebody.experts import WholeBodyEstimator
    from wholebody.experts.runtime.models import ModelNotPreparedError

    try:
        found = WholeBodyEstimator(num_threads=1, hand_zoom=False)
        found.detector  # noqa: B018 - build it now, skip when the models are not prepared
        return found
    except (ImportError, ModelNotPreparedError) as err:
        pytest.skip(f"models not prepared: {err}")


def _people(estimator, name: str) -> list:
    from PIL import Image

    photo = PHOTOS / name
    if not photo.is_file():
        pytest.skip(f"{photo} not found (../shared/media beside the repo)")
    return [p for p in estimator(np.asarray(Image.open(photo).convert("RGB"))) if p.part_scores["body"] > 0.1]


def _limbs_on_faces(people: list) -> list[tuple[int, int, int]]:
    """(person, joint, face owner) for every shown limb point on a face mesh's box that it may not be on.
    On its own face a wrist and one shoulder may be (the chin over a shoulder), not both shoulders."""
    bad = []
    for i, person in enumerate(people):
        for k, other in enumerate(people):
            box = other.part_boxes.get("face")
            if box is None:
                continue
            on = [j for j in range(5, 17) if person.keypoints[j, 2] > SHOWN_SCORE
                  and inside(person.keypoints[j, :2], box)]
            if k == i:
                on = [j for j in on if j not in OWN_FACE_OK and (j not in (5, 6) or {5, 6} <= set(on))]
            bad += [(i, j, k) for j in on]
    return bad


def test_no_limb_on_a_face_on_the_four_women_photo(estimator):
    """faceapi_sample6: the striped-dress woman's shoulders were drawn on her face, score 1, and her left
    arm was also the right arm of the woman in green beside her."""
    people = _people(estimator, "faceapi_sample6.jpg")
    assert len(people) == 4
    assert _limbs_on_faces(people) == []
    assert _shared_arms(people) == []  # the striped-dress woman's left arm was the woman in green's too


def test_no_limb_on_a_face_and_no_forearm_drawn_twice_on_the_hugging_women_photo(estimator):
    """faceapi_sample4: the blonde woman's left forearm lay on her neighbour's own forearm."""
    people = _people(estimator, "faceapi_sample4.jpg")
    assert _limbs_on_faces(people) == []
    assert _shared_arms(people) == []


def _shared_arms(people: list) -> list[tuple[int, int]]:
    """Pairs of people with an arm in common: shown elbows and shown wrists (or shoulders) within a
    ``SAME_FOREARM`` of the longer of the two segments (checked here on its own, not with ``shared_arm``)."""
    pairs = []
    for i in range(len(people)):
        for j in range(i):
            for a, b in ((0, 0), (0, 1), (1, 0), (1, 1)):
                for far in (WRISTS, (5, 6)):
                    ends = [ELBOWS[a], far[a]], [ELBOWS[b], far[b]]
                    mine, theirs = people[i].keypoints[ends[0]], people[j].keypoints[ends[1]]
                    if (mine[:, 2] <= SHOWN_SCORE).any() or (theirs[:, 2] <= SHOWN_SCORE).any():
                        continue
                    length = max(np.hypot(*(mine[0, :2] - mine[1, :2])), np.hypot(*(theirs[0, :2] - theirs[1, :2])))
                    if (np.hypot(*(mine[:, :2] - theirs[:, :2]).T) < SAME_FOREARM * length).all():
                        pairs.append((i, j))
    return pairs

