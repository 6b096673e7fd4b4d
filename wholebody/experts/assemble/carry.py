"""Video carry-over: people of the previous frame whom the detector missed in this one.

MediaPipe tracks a person by re-cropping around the landmarks of the frame before and runs
the detector only when the landmark model says the person is gone.  The estimator does the
same for the people its detectors miss in one frame: ``add_carried`` appends the previous
frame's boxes (``carry_over.CarryOver``: the extent of each person's points, grown) that no
detection of this frame covers, with each person's body angle and track id; ``carried_body``
runs the body expert on such a box with the crop turned by that angle, as MediaPipe's rotated
ROI does (BlazePose wants an upright person: the sports2d man was lost for 37 frames of his
backflip), then, if nobody is found, on a few turns around it and on the box widened.  A
carried person is kept only while BlazePose's pose-present probability is at least
``CARRY_PRESENCE`` (MediaPipe's own tracking threshold) and keeps the track id of the box
(``track.PersonTracker`` takes it as a hint).  Duplicates of detected people are removed
afterwards (``duplicates``); before that, a carried box whose body lands on a person already
found (``lands_on_found``; for video boxes also a part of them) is dropped: the carry list
holds, besides the previous frame's people, the last boxes of people lost lately, and in hard
frames two of them found one person twice (sports2d demo: a second track on the flipping man,
a second one on the woman leaving at the image edge).  Boxes are ``[x, y, w, h]`` in original
pixels; angles in radians as ``crops.SquareCrop.angle``.
"""

from __future__ import annotations

import logging
import math
from typing import Callable, Sequence

import numpy as np

from wholebody.experts.crops import angle_for_up, box_of_points
from wholebody.experts.detect.people import same_person

log = logging.getLogger(__name__)

CARRY_PRESENCE = 0.5
CARRY_SCORE_DECAY = 0.9  # a carried box's score: its previous score x this, per carried frame,
CARRY_SCORE_FLOOR = 0.2  # but not below this (MoveNet's score of a weak, true person), so a person
# carried for seconds keeps a usable score while the landmark presence vouches for them
TURNS_DEG = (30.0, -30.0, 60.0, -60.0)  # crop turns tried, relative to the last body angle, when the
# first crop finds nobody (a cartwheel turns the body ~10-20 degrees a frame at 30 fps)
REALIGN_TIMES = 2  # re-crops at the body angle of the pose a turn found
REALIGN_DEG = 15.0  # ... when it differs from the crop's by more than this
WIDEN = 1.6  # last try: the box this many times larger about its centre (the sports2d man falling
# out of his carried box in the second half of his flip) ...
WIDE_PRESENCE = 0.9  # ... kept only when this sure and centred in the carried box (wide crops of the
# glare gave poses on the sun)
CARRY_MARGIN = 0.15  # a person found in a widened box gets their points' extent grown by this per side


def add_carried(boxes: np.ndarray, scores: np.ndarray, priors, carry) -> tuple:
    """Detections plus the carried boxes none of them covers.

    Args:
        boxes: (N, 4) detected boxes; scores: (N,); priors: (N, 17, 3) detector points or None.
        carry: ``(boxes (M, 4), scores (M,))`` or ``(boxes, scores, angles (M,), track ids (M,))``
            (``carry_over.CarryOver``: body angles in radians, NaN unknown; ids -1 for none), or None.
    Returns:
        (boxes, scores, priors, carried, angles, ids): the inputs extended; priors of carried boxes
        are NaN (or the priors stay None when there were none); carried: (N + M',) bool; angles:
        (N + M',) the carried boxes' body angles (NaN for detections and unknown ones); ids:
        (N + M',) int, the track id each carried box came from (-1: none, or a detection).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    carried, angles, ids = np.zeros(len(boxes), dtype=bool), np.full(len(boxes), np.nan), np.full(len(boxes), -1)
    if carry is None or len(carry[0]) == 0:
        return boxes, scores, priors, carried, angles, ids
    carry_boxes = np.asarray(carry[0], dtype=np.float64).reshape(-1, 4)
    extra = [i for i, box in enumerate(carry_boxes) if not any(same_person(box, own) for own in boxes)]
    if not extra:
        return boxes, scores, priors, carried, angles, ids
    previous = np.asarray(carry[1], dtype=np.float64).reshape(-1)[extra]
    new_scores = np.minimum(previous, np.maximum(previous * CARRY_SCORE_DECAY, CARRY_SCORE_FLOOR))
    new_angles = np.asarray(carry[2], dtype=np.float64)[extra] if len(carry) > 2 else np.full(len(extra), np.nan)
    new_ids = np.asarray(carry[3], dtype=np.int64)[extra] if len(carry) > 3 else np.full(len(extra), -1)
    if priors is not None:
        priors = np.concatenate([np.asarray(priors, dtype=np.float64).reshape(-1, 17, 3),
                                 np.full((len(extra), 17, 3), np.nan)])
    return (np.concatenate([boxes, carry_boxes[extra]]), np.concatenate([scores, new_scores]), priors,
            np.concatenate([carried, np.ones(len(extra), dtype=bool)]),
            np.concatenate([angles, new_angles]), np.concatenate([ids, new_ids]).astype(np.int64))


def carried_body(run: Callable, box: np.ndarray, angle: float, image_shape: tuple, track_id: int = -1,
                 found: Sequence = ()) -> tuple:
    """The body in a carried box, the crop turned so the person stands upright in it.

    Args:
        run: ``(box [x, y, w, h], crop angle in radians) -> (Person or None, BodyLandmarks)`` (the
            estimator's body expert; the crop angle as in ``crops.SquareCrop``).
        box: the carried ``[x, y, w, h]`` box, original pixels.
        angle: the person's body angle in the frame before (``track.body_angle``); NaN: unknown,
            then one upright crop only, as for any box.
        image_shape: (H, W, ...): a box at the image border tries its first crop only (people
            leaving the image are retried for many frames and turns rarely find them there).
        track_id: the track the box was carried from (-1: none); the person found gets it as
            ``track_id`` (``track.PersonTracker``'s hint).
        found: the people found so far in this frame; when one of them already has ``track_id``
            (an earlier box of the same person: ``carry_over.CarryOver`` offers the last box and the
            boxes where the person was lost lately) the box is not run: it would find a duplicate.
    Returns:
        (Person or None, BodyLandmarks) of the first crop or, when that finds no body with presence
        >= ``CARRY_PRESENCE``, of the first turn that finds one (``TURNS_DEG`` relative to ``angle``),
        else of the box widened ``WIDEN`` times (a person moving fast leaves the box), re-aligned
        on the body found (at most ``REALIGN_TIMES``: the found pose's own body angle); (None, None)
        when the track's person is already found; (None, body) when a video-carried box (a finite
        ``angle`` or a track id) found someone of ``found`` again or a part of them.
    """
    track_id = int(track_id)
    if track_id >= 0 and any(other.track_id == track_id for other in found):
        return None, None
    person, body = _turned(run, box, angle, image_shape)
    if person is not None and (np.isfinite(angle) or track_id >= 0) and _fragment_of_found(person, found):
        log.debug("carried box %s found a part of someone already found; dropped", np.round(box))
        return None, body
    if person is not None:
        person.track_id = track_id if track_id >= 0 else None
    return person, body


def _fragment_of_found(person, found: Sequence, point_score: float = 0.3) -> bool:
    """Whether a video-carried ``Person`` is one found already, or a part of one (``duplicates``:
    the same skeleton, or a fragment inside their box: a lost box of the sports2d man landing found
    his legs again, a second person for 5 frames)."""
    from wholebody.experts.assemble.duplicates import part_of, same_skeleton

    mine = _extent(person, point_score)
    for other in found:
        theirs = _extent(other, point_score)  # grown as a carried box is: a fragment at the feet pokes out
        theirs = None if theirs is None else theirs + CARRY_MARGIN * np.concatenate([-theirs[2:], 2 * theirs[2:]])
        if same_skeleton(person.keypoints, other.keypoints) or (
                mine is not None and theirs is not None and part_of(person.keypoints, mine, other.keypoints, theirs)):
            return True
    return False


def _turned(run: Callable, box: np.ndarray, angle: float, image_shape: tuple) -> tuple:
    first_angle = float(angle) if np.isfinite(angle) else 0.0
    person, body = run(box, first_angle)
    if _present(person, body) or not np.isfinite(angle) or _at_border(box, image_shape):
        return person, body
    for turn in TURNS_DEG:
        tried = first_angle + math.radians(turn)
        person_turned, body_turned = run(box, tried)
        if _present(person_turned, body_turned):
            log.debug("carried box %s: body found turned %+.0f deg from %.0f deg", np.round(box), turn,
                      math.degrees(first_angle))
            return _realigned(run, box, person_turned, body_turned, tried)
    wide = np.concatenate([box[:2] - (WIDEN - 1) / 2 * box[2:], WIDEN * box[2:]])
    person_wide, body_wide = run(wide, first_angle)
    own = None if person_wide is None else _extent(person_wide, 0.3)
    if (_present(person_wide, body_wide) and body_wide.score >= WIDE_PRESENCE and own is not None
            and _centre_inside(own, box)):
        log.debug("carried box %s: body found in the box widened x%.1f", np.round(box), WIDEN)
        person, body = _realigned(run, wide, person_wide, body_wide, first_angle)
        own = _extent(person, 0.3)  # the widened crop box is mostly background: the tracker
        if own is not None:  # compares the person's box with the track's, so give theirs
            person.bbox = own + CARRY_MARGIN * np.concatenate([-own[2:], 2 * own[2:]])
        return person, body
    log.debug("carried box %s at %.0f deg: no body (presence %.2f)", np.round(box), math.degrees(first_angle),
              body.score)
    return person, body


def _realigned(run: Callable, box: np.ndarray, person, body, used: float) -> tuple:
    """Re-crop at the found pose's body angle while it differs from the crop's by more than
    ``REALIGN_DEG`` (the body model is most exact on an upright person); keep the best found."""
    for _ in range(REALIGN_TIMES):
        found = body_angle(person.keypoints)
        if not np.isfinite(found) or abs(_wrap(found - used)) <= math.radians(REALIGN_DEG):
            break
        again_person, again_body = run(box, found)
        if not _present(again_person, again_body) or again_person.score <= person.score:
            break
        person, body, used = again_person, again_body, found
    return person, body


def _centre_inside(inner: np.ndarray, outer: np.ndarray) -> bool:
    cx, cy = inner[:2] + inner[2:] / 2
    return bool(outer[0] <= cx <= outer[0] + outer[2] and outer[1] <= cy <= outer[1] + outer[3])


def _present(person, body) -> bool:
    return person is not None and body.score >= CARRY_PRESENCE


def _at_border(box: np.ndarray, image_shape: tuple, margin: float = 2.0) -> bool:
    x, y, w, h = (float(v) for v in box)
    height, width = image_shape[:2]
    return x <= margin or y <= margin or x + w >= width - margin or y + h >= height - margin


def _wrap(radians: float) -> float:
    """An angle difference in (-pi, pi]."""
    return float(math.atan2(math.sin(radians), math.cos(radians)))


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


COCO_SHOULDERS, COCO_HIPS = [5, 6], [11, 12]


def body_angle(keypoints: np.ndarray, score_thr: float = 0.3) -> float:
    """The crop angle (radians, ``crops.SquareCrop.angle``) that turns hip centre -> shoulder centre
    up, from (133, 3) or (17+, 3) pixel keypoints; NaN when a shoulder or hip scores at or below
    ``score_thr`` or the two centres coincide.  0 for an upright person, +-pi upside down."""
    points = np.asarray(keypoints, dtype=np.float64)
    if points.ndim != 2 or len(points) < 13 or points.shape[1] < 3:
        return float("nan")
    torso = points[COCO_SHOULDERS + COCO_HIPS]
    if not (np.isfinite(torso).all() and (torso[:, 2] > score_thr).all()):
        return float("nan")
    up = torso[:2, :2].mean(axis=0) - torso[2:, :2].mean(axis=0)
    return float(angle_for_up(up)) if np.hypot(*up) > 1e-6 else float("nan")
