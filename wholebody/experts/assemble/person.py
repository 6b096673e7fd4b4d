"""Assemble part-expert outputs into whole-body ``Person`` results (133 keypoints, scores, boxes, 3D).

Scores (all in [0, 1]):
* body and foot points: BlazePose visibility x presence (body points fused with the
  detector's keypoints when it has them, see ``fusion``); small toes have no BlazePose
  landmark and get score 0 (``landmarks.feet.small_toes``);
* hand points: the hand model's presence probability; face points: the face-mesh presence;
* part scores: body = pose-present probability x mean body point score, foot = the same with
  the big-toe / heel scores, face and hands = presence (of the attached part, else of the
  person's own crop, else 0);
* instance score (``Person.score``, the COCO ``score`` that ranks body results): box score x
  body part score;
* whole-body score (``part_scores["wholebody"]``, written as ``wholebody_score``): box score x
  the point-count-weighted mean of the five part scores, so a person whose face or hands
  failed ranks lower (measured on the fixtures: whole-body AP +0.024 with MoveNet boxes over
  ranking by the body score).
A part box (``part_boxes``) is set only when the part is attached with presence >= 0.5.
"""

from __future__ import annotations

import numpy as np

from wholebody.experts.assemble.association import grown_box_size, match_faces, match_hands, unique_parts
from wholebody.experts.assemble.fusion import fuse_body
from wholebody.experts.assemble.limbs import NOT_MINE_SCORE
from wholebody.experts.crops import box_of_points
from wholebody.experts.landmarks.body import BodyLandmarks, body_to_wholebody
from wholebody.experts.landmarks.feet import small_toes
from wholebody.schema import PART_SIZES, PART_SLICES, PARTS
from wholebody.types import Person

PART_FOUND = 0.5  # presence above which a hand / face counts as found (part box + valid flag)
NOSE = 0
WRIST_133 = {"left": 9, "right": 10}
HAND_BLOCK = {"left": PART_SLICES["lefthand"], "right": PART_SLICES["righthand"]}


def body_person(body: BodyLandmarks, box: np.ndarray, prior17: np.ndarray | None = None) -> Person:
    """A ``Person`` with the body and foot filled from the body expert (fused with ``prior17``).

    Args:
        body: the body expert's landmarks.
        box: the person box ``[x, y, w, h]`` the body came from.
        prior17: optional (17, 3) COCO body points from the detector (see ``fusion``).
    """
    keypoints = np.zeros((133, 3))
    points23, world23 = body_to_wholebody(body)
    points23, world23 = small_toes(points23, world23)
    keypoints[:23] = fuse_body(points23, prior17)
    body_mean = float(keypoints[:17, 2].mean())
    foot_mean = float(keypoints[[17, 19, 20, 22], 2].mean())
    return Person(
        keypoints=keypoints,
        score=body.score * body_mean,
        part_scores={"body": body.score * body_mean, "foot": body.score * foot_mean, "face": 0.0,
                     "lefthand": 0.0, "righthand": 0.0},
        bbox=np.asarray(box, dtype=np.float64),
        part_boxes={"face": None, "lefthand": None, "righthand": None},
        keypoints_3d={"body": world23, "face": None, "lefthand": None, "righthand": None},
    )


def finish_scores(people: list[Person], box_scores: list[float]) -> None:
    """Instance and whole-body scores (see the module docstring)."""
    for person, box_score in zip(people, box_scores):
        person.fill_part_scores()
        person.box_score = float(box_score)
        person.score = float(box_score) * person.part_scores["body"]
        weighted = sum(PART_SIZES[p] * person.part_scores[p] for p in PARTS) / sum(PART_SIZES.values())
        person.part_scores["wholebody"] = float(box_score) * weighted


def attach_hands(people: list[Person], hands: list[tuple[int, str, object]]) -> None:
    """DOPE's hand rule (side respected) against each person's wrists; fills the hand blocks.

    Args:
        people: persons with their body points filled.
        hands: (index of the person whose wrist crop it came from, side, HandLandmarks).
    """
    if not hands or not people:
        return
    body_wrists = np.array([[p.keypoints[WRIST_133["left"], :2], p.keypoints[WRIST_133["right"], :2]] for p in people])
    # A wrist scored at most NOT_MINE_SCORE is another person's (``limbs``), outside the image (capped
    # there, ``point_scores``) or unseen: it takes no hand here (its crop's reading may still be kept below
    # as not found).  faceapi_sample4: the hand at a forearm two women shared went to its owner; fixture AP unchanged.
    wrist_valid = np.array([[p.keypoints[WRIST_133[s], 2] > NOT_MINE_SCORE for s in ("left", "right")] for p in people])
    hand_wrists = np.array([h.points[0] for _, _, h in hands])
    hand_sides = np.array([0 if side == "left" else 1 for _, side, _ in hands])
    hand_sizes = np.array([grown_box_size(h.points) for _, _, h in hands])
    pairs = match_hands(body_wrists, wrist_valid, hand_wrists, hand_sides, hand_sizes)
    attached = set(pairs.values())
    for (person_index, side_index), hand_index in pairs.items():
        _fill_hand(people[person_index], "left" if side_index == 0 else "right", hands[hand_index][2], found=True)
    # A wrist left without a hand keeps its own crop's landmarks (the expert's best guess, at
    # the expert's own low presence) unless another person took that hand.
    for hand_index, (person_index, side, hand) in enumerate(hands):
        side_index = 0 if side == "left" else 1
        if (person_index, side_index) not in pairs and hand_index not in attached:
            _fill_hand(people[person_index], side, hand, found=False)


def _fill_hand(person: Person, side: str, hand, found: bool) -> None:
    """Write one hand into ``person``; ``found`` False keeps the points but no box / 3D."""
    part = side + "hand"
    person.keypoints[HAND_BLOCK[side], :2] = hand.points
    person.keypoints[HAND_BLOCK[side], 2] = hand.presence
    person.part_scores[part] = hand.presence
    if found:
        person.keypoints_3d[part] = hand.world - hand.world[0]
        person.part_boxes[part] = box_of_points(hand.points) if hand.presence >= PART_FOUND else None


def attach_faces(people: list[Person], faces: list[tuple[int, object]]) -> None:
    """DOPE's face rule: a person's nose inside exactly one face box, and only that person's.

    Args:
        people: persons with their body points filled.
        faces: (index of the person whose head crop it came from, face result with ``box()``,
            ``ibug68()``, ``presence`` and ``metric_68()``).
    """
    if not faces or not people:
        return
    faces = [faces[i] for i in unique_parts([f.box() for _, f in faces], [f.presence for _, f in faces])]
    heads = np.array([p.keypoints[NOSE, :2] for p in people])
    pairs = match_faces(heads, np.ones(len(people), dtype=bool), [f.box() for _, f in faces])
    attached = set(pairs.values())
    for person_index, face_index in pairs.items():
        _fill_face(people[person_index], faces[face_index][1], found=True)
    for face_index, (person_index, face) in enumerate(faces):
        if person_index not in pairs and face_index not in attached:
            _fill_face(people[person_index], face, found=False)


def _fill_face(person: Person, face, found: bool) -> None:
    """Write one face into ``person``; ``found`` False keeps the points but no box / 3D."""
    person.keypoints[PART_SLICES["face"], :2] = face.ibug68()
    person.keypoints[PART_SLICES["face"], 2] = face.presence
    person.part_scores["face"] = face.presence
    if found:
        person.keypoints_3d["face"] = face.metric_68()
        person.part_boxes["face"] = face.box() if face.presence >= PART_FOUND else None
