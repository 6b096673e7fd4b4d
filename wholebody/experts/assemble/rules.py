"""Rules that join whole-image part detections to bodies, and the people made of parts alone.

All coordinates are original-image pixels; boxes are ``[x, y, w, h]``.

* Hands (wrist-crop, palm-found, wrist-search) go to bodies in ``hand_assembly``.
* Faces found by the face detector (``face_matches``): DOPE's head rule (a body's nose inside
  exactly one face box, grown 10 %, and that box holding only that nose), then mutual nearest
  nose and face centre within a face size for the rest; each claimed face gives its person the
  face-mesh ROI of the detector.
* Unclaimed parts become people of their own (``part_person``): only that part's points,
  every other part's points and scores 0, the part box as person box.
"""

from __future__ import annotations

import numpy as np

from wholebody.experts.assemble.association import box_iou, match_faces
from wholebody.schema import PART_SIZES, PART_SLICES, PARTS
from wholebody.types import Person

DUPLICATE_IOU = 0.3
PART_FOUND = 0.5
PART_ONLY_RANK = 0.1  # whole-body score factor of a person made of one part (``part_person``)
NOSE = 0  # COCO-WholeBody index


def face_matches(people: list[Person], face_boxes: list[np.ndarray], reach: float = 1.0) -> dict[int, int]:
    """{person index: detected face index}: DOPE's head rule on each person's nose, then a second
    round for the people and faces it left: mutual nearest nose and face centre, at most
    ``reach`` x the face box's longer side apart.

    The second round is for a body whose head points slid off the face (onto the chin or the
    neck; on the README's group photos the nose can sit half a face below the face box): the
    face found on its own is then that person's, and the mesh runs there instead of on the
    neck.  One-to-one by construction.
    """
    if not people or not face_boxes:
        return {}
    noses = np.array([p.keypoints[NOSE, :2] for p in people])
    valid = np.array([p.keypoints[NOSE, 2] > 0 for p in people])
    pairs = match_faces(noses, valid, face_boxes)
    people_left = [i for i in range(len(people)) if valid[i] and i not in pairs]
    faces_left = [j for j in range(len(face_boxes)) if j not in pairs.values()]
    if people_left and faces_left:
        centres = np.array([np.asarray(face_boxes[j][:2]) + np.asarray(face_boxes[j][2:]) / 2.0 for j in faces_left])
        dist = np.linalg.norm(noses[people_left][:, None, :] - centres[None, :, :], axis=2)
        for a, b in enumerate(dist.argmin(axis=1)):
            size = float(max(face_boxes[faces_left[b]][2:]))
            if dist[:, b].argmin() == a and dist[a, b] <= reach * size:
                pairs[people_left[a]] = faces_left[b]
    return pairs


def overlap_of_smaller(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection of two ``[x, y, w, h]`` boxes over the smaller one's area."""
    lo = np.maximum(a[:2], b[:2])
    hi = np.minimum(a[:2] + a[2:], b[:2] + b[2:])
    inter = float(np.prod(np.clip(hi - lo, 0, None)))
    smaller = min(float(a[2] * a[3]), float(b[2] * b[3]))
    return inter / smaller if smaller > 0 else 0.0


def duplicates_part(box: np.ndarray, people: list[Person], part: str) -> bool:
    """Whether ``box`` is a second view of the ``part`` of any person: IoU > DUPLICATE_IOU, or half
    of the smaller box inside the other (a face mesh run on a too-large ROI spreads over the
    head and shoulders, so its box is much larger than the face it duplicates)."""
    box = np.asarray(box, dtype=np.float64)
    for person in people:
        other = person.part_boxes.get(part)
        if other is not None and (box_iou(box, other) > DUPLICATE_IOU or overlap_of_smaller(box, other) > 0.5):
            return True
    return False


def mesh_fits_detection(mesh_box: np.ndarray, detection_box: np.ndarray, min_iou: float = 0.3) -> bool:
    """Whether a landmark box agrees with the detector box it came from (IoU >= ``min_iou``).

    A face with no body is kept only when both models agree where it is: a face mesh that slid
    off the detection (onto hair or an arm) still reports a high presence.
    """
    return box_iou(np.asarray(mesh_box, dtype=np.float64), np.asarray(detection_box, dtype=np.float64)) >= min_iou


def part_person(part: str, points: np.ndarray, presence: float, detector_score: float, box: np.ndarray,
                points_3d: np.ndarray | None) -> Person:
    """A person known only by one part (``"face"``, ``"lefthand"`` or ``"righthand"``).

    Its other parts' points and scores are 0; ``score`` (the body ranking) is 0 since no body
    was seen.  The whole-body score is ``PART_ONLY_RANK`` x the detector score x the part's
    presence x its share of the 133 points: at most 0.05 for a face, 0.016 for a hand, below
    nearly every whole person (on the photos of the README they score 0.1-0.5), because in a
    whole-body evaluation such an entry is at best a person with 4 of 5 parts missing, and more
    often a second view of someone whose body entry holds that part less well.
    """
    keypoints = np.zeros((133, 3))
    keypoints[PART_SLICES[part], :2] = points
    keypoints[PART_SLICES[part], 2] = presence
    part_scores = {p: 0.0 for p in PARTS}
    part_scores[part] = float(presence)
    share = PART_SIZES[part] / sum(PART_SIZES.values())
    part_scores["wholebody"] = PART_ONLY_RANK * float(detector_score) * float(presence) * share
    return Person(
        keypoints=keypoints,
        score=0.0,
        part_scores=part_scores,
        bbox=np.asarray(box, dtype=np.float64),
        part_boxes={"face": None, "lefthand": None, "righthand": None} | {part: np.asarray(box, dtype=np.float64)},
        keypoints_3d={"body": None, "face": None, "lefthand": None, "righthand": None} | {part: points_3d},
        box_score=float(detector_score),
    )
