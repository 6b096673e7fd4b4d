"""Whole-body assembly: attach DOPE's hand and face detections to its bodies, build ``Person``s.

Two matching rules share the same geometry: a hand may go to a wrist of its own side (the
public code ignored the side) at most ``margin`` x the hand size away (longest side of the
hand's pose box, 10 % margin per side); a face may go to a body whose head point lies inside
the face's landmark box (10 % margin).

* ``by_score=True`` (default): bodies are taken in descending score; each takes the nearest
  still-free hand per wrist and the free face whose box centre is nearest its head point.
* ``by_score=False`` (the public code's rule): a hand pairs only with the *mutually* nearest
  wrist; a face only when the head lies inside exactly one face box and that box holds no
  other body's head.

Why the default differs: PPI keeps several modes per person (low-score duplicates of a body
whose wrists and head fall on the same spots), and under the mutual rule one duplicate is
enough to leave every copy without its hands and face.  With PPI on one overfit fixture model
this rule alone took whole-body AP from 0.537 to 0.373 (on another it made no difference).  Taking bodies by score gives each part to the most
confident body and leaves duplicates bare, so they stay low-ranked false positives.

Empty parts are fine.  The body's wrists are *not* overwritten by the hand's (the public code
did), unless ``overwrite_wrists``.

``Person`` scores: a detection score ``s`` (PPI sums can exceed 1) becomes ``1 - exp(-s)``,
which keeps the ranking and lies in [0, 1); every keypoint of a part gets its part's score.
"""

from __future__ import annotations

import numpy as np

from wholebody.models.dope.layout import DopeLayout
from wholebody.models.dope.post import POSE_BOX_MARGIN, PartDetection, pose_boxes
from wholebody.schema import PART_SLICES, hand_to_wholebody, to_wholebody
from wholebody.types import Person

NO_MATCH = -1


def hand_size(pose2d: np.ndarray) -> float:
    """Longest side of the hand's pose box with a 10 % margin per side, pixels."""
    box = pose_boxes(pose2d, POSE_BOX_MARGIN)
    return float(max(box[2] - box[0], box[3] - box[1]))


def _mutual_nearest(distance: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """distance (B, H), limit (H,) -> for each row the mutually nearest column within limit, or -1."""
    match = np.full(distance.shape[0], NO_MATCH)
    if distance.size == 0:
        return match
    nearest_hand = distance.argmin(axis=1)
    nearest_body = distance.argmin(axis=0)
    for b, h in enumerate(nearest_hand):
        if nearest_body[h] == b and distance[b, h] <= limit[h]:
            match[b] = h
    return match


def _greedy_by_score(distance: np.ndarray, allowed: np.ndarray, body_scores: np.ndarray) -> np.ndarray:
    """distance/allowed (B, H) -> per body (descending score) the nearest allowed free column, or -1."""
    match = np.full(distance.shape[0], NO_MATCH)
    free = np.ones(distance.shape[1], bool)
    for b in np.argsort(-body_scores, kind="stable"):
        options = np.flatnonzero(allowed[b] & free)
        if len(options):
            match[b] = options[np.argmin(distance[b, options])]
            free[match[b]] = False
    return match


def assign_hands(bodies: list[PartDetection], hands: list[PartDetection], layout: DopeLayout,
                 margin: float = 1.0, by_score: bool = True) -> np.ndarray:
    """(B, 2) indices into ``hands``: column 0 the left hand, column 1 the right hand, -1 none."""
    result = np.full((len(bodies), 2), NO_MATCH)
    for column, is_right in ((0, False), (1, True)):
        side = [i for i, h in enumerate(hands) if h.is_right == is_right]
        if not bodies or not side:
            continue
        wrists = np.stack([b.pose2d[layout.body_wrists[column]] for b in bodies])
        hand_wrists = np.stack([hands[i].pose2d[layout.hand_wrist] for i in side])
        distance = np.linalg.norm(wrists[:, None] - hand_wrists[None], axis=-1)
        limit = margin * np.array([hand_size(hands[i].pose2d) for i in side])
        if by_score:
            match = _greedy_by_score(distance, distance <= limit[None], np.array([b.score for b in bodies]))
        else:
            match = _mutual_nearest(distance, limit)
        result[match >= 0, column] = np.array(side)[match[match >= 0]]
    return result


def assign_faces(bodies: list[PartDetection], faces: list[PartDetection], layout: DopeLayout,
                 by_score: bool = True) -> np.ndarray:
    """(B,) index into ``faces`` per body, -1 when none (see module docstring)."""
    result = np.full(len(bodies), NO_MATCH)
    if not bodies or not faces:
        return result
    heads = np.stack([b.pose2d[layout.body_head] for b in bodies])
    boxes = pose_boxes(np.stack([f.pose2d for f in faces]), POSE_BOX_MARGIN)
    inside = ((heads[:, None, 0] >= boxes[None, :, 0]) & (heads[:, None, 0] <= boxes[None, :, 2])
              & (heads[:, None, 1] >= boxes[None, :, 1]) & (heads[:, None, 1] <= boxes[None, :, 3]))
    if by_score:
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        distance = np.linalg.norm(heads[:, None] - centres[None], axis=-1)
        return _greedy_by_score(distance, inside, np.array([b.score for b in bodies]))
    for b in range(len(bodies)):
        if inside[b].sum() == 1:
            f = int(np.flatnonzero(inside[b])[0])
            if inside[:, f].sum() == 1:
                result[b] = f
    return result


def probability(score: float) -> float:
    """Map a summed PPI score (>= 0) to [0, 1) monotonically."""
    return float(1.0 - np.exp(-max(score, 0.0)))


def _xywh(box: np.ndarray) -> np.ndarray:
    return np.array([box[0], box[1], box[2] - box[0], box[3] - box[1]], dtype=np.float64)


def _place(keypoints: np.ndarray, det: PartDetection, layout: DopeLayout, score: float) -> None:
    """Write one part's 2D pose (with its score) into a (133, 3) array, in place."""
    points = np.concatenate([det.pose2d, np.full((len(det.pose2d), 1), score)], axis=1)
    if det.part == "hand":
        placed = hand_to_wholebody(points, bool(det.is_right), layout.parts["hand"])
    else:
        placed = to_wholebody(points, layout.parts[det.part])
    written = placed[:, 2] > 0
    keypoints[written] = placed[written]


def _wholebody_3d(det: PartDetection, layout: DopeLayout) -> tuple[str, np.ndarray]:
    """(key, points) for ``Person.keypoints_3d``: the part's 3D in the 133 layout's slices."""
    if det.part == "hand":
        side = "righthand" if det.is_right else "lefthand"
        return side, hand_to_wholebody(det.pose3d, bool(det.is_right), layout.parts["hand"])[PART_SLICES[side]]
    full = to_wholebody(det.pose3d, layout.parts[det.part])
    if det.part == "body":
        return "body", full[: PART_SLICES["foot"].stop]
    return "face", full[PART_SLICES["face"]]


def make_person(body: PartDetection | None, left: PartDetection | None, right: PartDetection | None,
                face: PartDetection | None, layout: DopeLayout, overwrite_wrists: bool = False) -> Person:
    """One ``Person`` (133 keypoints, original pixels) from a body and its attached parts."""
    keypoints = np.zeros((133, 3))
    part_scores, part_boxes, points3d = {}, {}, {}
    for det, key in ((body, "body"), (face, "face"), (left, "lefthand"), (right, "righthand")):
        if det is None:
            if key != "body":
                part_boxes[key] = None
            continue
        score = probability(det.score)
        _place(keypoints, det, layout, score)
        name, xyz = _wholebody_3d(det, layout)
        points3d[name] = xyz
        part_scores[key] = score
        if key != "body":
            part_boxes[key] = _xywh(det.box)
    if body is not None:
        part_scores["foot"] = part_scores["body"]
        if overwrite_wrists:  # the public code's behaviour: the body wrist takes the hand's wrist
            body_to_133 = layout.parts["body"].to_wholebody
            for det, side, hand_root in ((left, 0, PART_SLICES["lefthand"].start), (right, 1, PART_SLICES["righthand"].start)):
                if det is not None:
                    keypoints[body_to_133[layout.body_wrists[side]], :2] = keypoints[hand_root, :2]
    else:  # a lone hand or face: ranked last for whole-body AP, where it can only be a false positive
        part_scores.update(body=0.0, foot=0.0, wholebody=0.0)
    for key in ("face", "lefthand", "righthand"):
        part_scores.setdefault(key, 0.0)
    anchor = body or face or left or right
    score = part_scores["body"] if body is not None else probability(anchor.score)
    return Person(keypoints=keypoints, score=score, part_scores=part_scores, bbox=_xywh(anchor.box),
                  part_boxes=part_boxes, keypoints_3d=points3d)


def assemble(detections: dict[str, list[PartDetection]], layout: DopeLayout, margin: float = 1.0,
             keep_unassigned: bool = True, overwrite_wrists: bool = False, by_score: bool = True) -> list[Person]:
    """Whole-body people from one image's part detections (``dope_post.detect_parts``).

    Hands and faces attached to no body become people of their own when ``keep_unassigned``
    (body score 0), so they still count for the hand / face metrics.
    """
    bodies, hands, faces = (detections.get(p, []) for p in ("body", "hand", "face"))
    hand_match = assign_hands(bodies, hands, layout, margin, by_score)
    face_match = assign_faces(bodies, faces, layout, by_score)
    people = []
    for b, body in enumerate(bodies):
        left = hands[hand_match[b, 0]] if hand_match[b, 0] >= 0 else None
        right = hands[hand_match[b, 1]] if hand_match[b, 1] >= 0 else None
        face = faces[face_match[b]] if face_match[b] >= 0 else None
        people.append(make_person(body, left, right, face, layout, overwrite_wrists))
    if keep_unassigned:
        used_hands, used_faces = set(hand_match[hand_match >= 0].tolist()), set(face_match[face_match >= 0].tolist())
        for i, hand in enumerate(hands):
            if i not in used_hands:
                people.append(make_person(None, None if hand.is_right else hand, hand if hand.is_right else None, None, layout))
        for i, face in enumerate(faces):
            if i not in used_faces:
                people.append(make_person(None, None, None, face, layout))
    return people
