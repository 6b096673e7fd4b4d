"""Video carry-over: people of the previous frame whom the detector missed in this one.

MediaPipe tracks a person by re-cropping around the landmarks of the frame before and runs
the detector only when the landmark model says the person is gone.  The estimator does the
same for the people its detectors miss in one frame: ``add_carried`` appends the previous
frame's boxes (``track.carry_boxes``: the extent of each person's points, grown) that no
detection of this frame covers; the body expert then runs on them like on any box, and a
carried person is kept only while BlazePose's pose-present probability is at least
``CARRY_PRESENCE`` (MediaPipe's own tracking threshold).  Duplicates of detected people are
removed afterwards (``duplicates``); before that, a carried box whose body lands on a person
already found (``lands_on_found``) is dropped: the carry list holds, besides the previous frame's
people, the last boxes of people lost lately (``track.CarryOver``), and in hard frames two of
them found one person twice (sports2d demo: a second track on the flipping man, a second
one on the woman leaving at the image edge).  Boxes are ``[x, y, w, h]`` in original pixels.
"""

from __future__ import annotations

import numpy as np

from wholebody.experts.crops import box_of_points
from wholebody.experts.detect.people import same_person

CARRY_PRESENCE = 0.5
CARRY_SCORE_DECAY = 0.9  # a carried box's score: its previous score x this, per carried frame,
CARRY_SCORE_FLOOR = 0.2  # but not below this (MoveNet's score of a weak, true person), so a person
# carried for seconds keeps a usable score while the landmark presence vouches for them


def add_carried(boxes: np.ndarray, scores: np.ndarray, priors, carry) -> tuple:
    """Detections plus the carried boxes none of them covers.

    Args:
        boxes: (N, 4) detected boxes; scores: (N,); priors: (N, 17, 3) detector points or None.
        carry: ``(boxes (M, 4), scores (M,))`` from the previous frame, or None.
    Returns:
        (boxes, scores, priors, carried): the inputs extended; priors of carried boxes are NaN
        (or the priors stay None when there were none); carried: (N + M',) bool.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    carried = np.zeros(len(boxes), dtype=bool)
    if carry is None or len(carry[0]) == 0:
        return boxes, scores, priors, carried
    extra = [i for i, box in enumerate(np.asarray(carry[0], dtype=np.float64).reshape(-1, 4))
             if not any(same_person(box, own) for own in boxes)]
    if not extra:
        return boxes, scores, priors, carried
    new_boxes = np.asarray(carry[0], dtype=np.float64).reshape(-1, 4)[extra]
    previous = np.asarray(carry[1], dtype=np.float64).reshape(-1)[extra]
    new_scores = np.minimum(previous, np.maximum(previous * CARRY_SCORE_DECAY, CARRY_SCORE_FLOOR))
    if priors is not None:
        priors = np.concatenate([np.asarray(priors, dtype=np.float64).reshape(-1, 17, 3),
                                 np.full((len(extra), 17, 3), np.nan)])
    return (np.concatenate([boxes, new_boxes]), np.concatenate([scores, new_scores]), priors,
            np.concatenate([carried, np.ones(len(extra), dtype=bool)]))


def lands_on_found(person, found: list, point_score: float = 0.3) -> bool:
    """Whether a carried box's ``Person`` is someone in ``found`` (people already kept this frame):
    the extents of their body and foot points scored above ``point_score`` frame the same person
    (``same_person``: IoU >= 0.5, or one inside the other with the centres near)."""
    mine = _extent(person, point_score)
    return mine is not None and any(
        other is not None and same_person(mine, other) for other in (_extent(p, point_score) for p in found))


def _extent(person, point_score: float) -> np.ndarray | None:
    body = person.keypoints[:23]
    seen = body[:, 2] > point_score
    return box_of_points(body, seen) if seen.sum() >= 2 else None
