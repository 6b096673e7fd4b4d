"""Boxes for the next video frame from this frame's people.

* ``follow_boxes``: the boxes ``--detect-every N`` re-crops between detector frames.
* ``carry_boxes`` / :class:`CarryOver`: the boxes the default model re-crops where its person
  detector misses someone it found the frame before (``experts.assemble.carry``), with the body
  angle that turns the crop upright and the track id the re-found person keeps.

Boxes are ``[x, y, w, h]`` in original pixels.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from wholebody.experts.assemble.carry import body_angle
from wholebody.experts.crops import box_of_points
from wholebody.track import BODY_AND_FEET
from wholebody.types import Person


def follow_boxes(people: Sequence[Person], score_thr: float = 0.3, margin: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """Person boxes for the next video frame from this frame's people (``--detect-every``).

    Each box is the extent of the person's body and foot points scored above ``score_thr``,
    grown by ``margin`` x its size per side (people move between frames, and the body expert's
    crop needs the whole person); a person with fewer than two such points keeps its own
    ``bbox``.  Scores are the people's ``box_score`` (1 when unknown), so an instance keeps the
    detector's confidence while it is followed.  Returns (N, 4) ``[x, y, w, h]`` and (N,).
    """
    boxes, scores = [], []
    for person in people:
        body = person.keypoints[:BODY_AND_FEET]
        seen = body[:, 2] > score_thr
        _add_box(boxes, scores, person, box_of_points(body, seen) if seen.sum() >= 2 else None, margin)
    return np.array(boxes, dtype=np.float64).reshape(-1, 4), np.array(scores, dtype=np.float64)


def carry_boxes(people: Sequence[Person], score_thr: float = 0.3, margin: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """This frame's people as boxes to re-crop in the next frame where its detector misses them
    (``experts.assemble.carry``): like ``follow_boxes``, the extent of each person's body and foot
    points scored above ``score_thr``, grown by ``margin`` per side; but where those points span
    less than half the extent of all 23 (a person in glare or mid-flip, found with two sure points:
    the sports2d man's carry box shrank to 33 x 20 px and he was lost for 30 frames) the extent of
    all 23 is used (a person without body points, a face or hand alone, keeps its ``bbox``).
    Returns (N, 4) ``[x, y, w, h]`` and (N,) scores, one per person with a body or a ``bbox``."""
    boxes, scores = [], []
    for person in people:
        body = person.keypoints[:BODY_AND_FEET]
        finite = np.isfinite(body).all(axis=1)
        seen = finite & (body[:, 2] > score_thr)
        whole = box_of_points(body, finite) if finite.sum() >= 2 else None
        whole = whole if whole is not None and max(whole[2:]) >= 1.0 else None  # a face- or hand-only person
        box = box_of_points(body, seen) if seen.sum() >= 2 else None
        if whole is not None and (box is None or max(box[2:]) < 0.5 * max(whole[2:])):
            box = whole
        _add_box(boxes, scores, person, box, margin)
    return np.array(boxes, dtype=np.float64).reshape(-1, 4), np.array(scores, dtype=np.float64)


def _add_box(boxes: list, scores: list, person: Person, box: np.ndarray | None, margin: float) -> None:
    """Append ``box`` grown by ``margin`` per side (or the person's ``bbox`` where ``box`` is None;
    nothing without either) and the person's box score."""
    if box is not None:
        box = box + margin * np.concatenate([-box[2:], 2 * box[2:]])
    elif person.bbox is not None:
        box = np.asarray(person.bbox, dtype=np.float64)
    else:
        return
    boxes.append(box)
    scores.append(1.0 if person.box_score is None else float(person.box_score))


class CarryOver:
    """Boxes to re-crop in the next frame (``WholeBodyEstimator(carry=...)``): this frame's people
    (``carry_boxes``) plus, for ``hold`` frames, the last box of each person who vanished.

    The landmark model's presence can dip below the estimator's floor for a frame (the sports2d
    demo: a backlit man on a box scored 0.07 in frame 143 and 1.0 in the same box in frame 146),
    and carry-over from the previous frame alone then never tries again: he was lost for 45
    frames.  A box whose person is not found in the next frame is retried for ``hold`` frames,
    also after the person is found again nearby (a re-found person may vanish again the next
    frame, and the box where they were last found whole is the one most likely to work).  Costs
    one body-model run per retried box per frame.  Boxes ``[x, y, w, h]``, pixels.

    Each box also carries the person's body angle (``body_angle``: radians, the crop angle that
    makes hip centre -> shoulder centre point up; the last usable one of the same track id when
    this frame's hips or shoulders are unsure, NaN when none is known) so the body model gets
    a tilted or upside-down person upright (``assemble.carry``), and the person's track id (-1:
    none) so the person found in the carried box keeps it (``PersonTracker``'s id hint).
    """

    def __init__(self, hold: int = 15, score_thr: float = 0.3) -> None:
        self.hold, self.score_thr = hold, score_thr
        self._current: list[tuple[np.ndarray, float, float, int]] = []  # the last frame's people
        self._lost: list[tuple[np.ndarray, float, float, int, int]] = []  # (box, score, angle, id, frame lost in)
        self._angles: dict[int, tuple[float, int]] = {}  # track id -> (last usable body angle, its frame)

    def update(self, people: Sequence[Person], frame: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Record the people of frame ``frame`` (track ids already set, or None); return for the next
        frame (M, 4) boxes, (M,) scores, (M,) body angles (radians, NaN: unknown) and (M,) track ids (-1: none)."""
        from wholebody.experts.detect.people import same_person

        boxes, scores = carry_boxes(people, self.score_thr)
        kept = [p for p in people if _has_carry_box(p, self.score_thr)]  # carry_boxes skips the others
        angles = [self._angle_of(person, frame) for person in kept]
        ids = [-1 if person.track_id is None else int(person.track_id) for person in kept]
        self._lost += [(box, score, angle, tid, frame) for box, score, angle, tid in self._current
                       if not any(same_person(box, own) for own in boxes)]
        self._lost = [lost for lost in self._lost if frame - lost[4] < self.hold and not self._moved_on(lost, boxes, ids)]
        self._angles = {k: v for k, v in self._angles.items() if frame - v[1] < self.hold + 1}
        self._current = [(box, float(score), angle, tid) for box, score, angle, tid in zip(boxes, scores, angles, ids)]
        every = self._current + [lost[:4] for lost in self._lost]
        return (np.array([e[0] for e in every], dtype=np.float64).reshape(-1, 4),
                np.array([e[1] for e in every], dtype=np.float64),
                np.array([e[2] for e in every], dtype=np.float64),
                np.array([e[3] for e in every], dtype=np.int64))

    @staticmethod
    def _moved_on(lost: tuple, boxes: np.ndarray, ids: list) -> bool:
        """Whether the person of a lost box is found this frame more than a box size away (their
        ``track_id``): the box then holds at most a duplicate of them (sports2d: a lost box of the
        man landing after a flip found his legs as a second person while he ran on)."""
        if lost[3] < 0 or lost[3] not in ids:
            return False
        box = boxes[ids.index(lost[3])]
        size = max(box[2], box[3], lost[0][2], lost[0][3], 1.0)
        return float(np.hypot(*(box[:2] + box[2:] / 2 - lost[0][:2] - lost[0][2:] / 2))) / size > 1.0

    def _angle_of(self, person: Person, frame: int) -> float:
        angle = body_angle(person.keypoints, self.score_thr)
        if person.track_id is None:
            return angle
        if np.isfinite(angle):
            self._angles[person.track_id] = (angle, frame)
            return angle
        return self._angles.get(person.track_id, (float("nan"), frame))[0]


def _has_carry_box(person: Person, score_thr: float) -> bool:
    """Whether ``carry_boxes`` gives ``person`` a box (same rule, so the lists stay aligned)."""
    return len(carry_boxes([person], score_thr)[0]) == 1
