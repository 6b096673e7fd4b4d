"""Body search from faces: a confident face that no kept person's head holds starts a person.

A person whom every person detector missed is usually still visible by the face (people
behind others, people cut by the image edge, close-ups).  The search runs after duplicate
removal (``duplicates.resolve_duplicates``), on the people actually kept: a face counts as
taken when a kept person's nose lies in it (``face_is_taken``), not merely when some person
box covers it.  That matters in groups: on insightface_t1.jpg a detector box did cover the
woman sitting behind the others, but its crop gave a neighbour's body, which was removed as a
duplicate, and the woman was lost.

The search crop is anchored on the face (``search_box``): a square a few face sides wide
(``SEARCH_TRIES``), centred on the face horizontally, from a margin above its top, so the face
dominates the crop (a tall box below a face behind others is mostly the people in front).
A body found there is kept only when it is that face's person: its nose lies in the face box
(grown by ``NOSE_MARGIN``), BlazePose's pose-present probability is at least ``MIN_PRESENCE``,
and it does not coincide with a kept person (``duplicates.same_skeleton``).  Boxes are
``[x, y, w, h]`` in original pixels.
"""

from __future__ import annotations

import logging

import numpy as np

from wholebody.experts.assemble.association import grow_box, inside
from wholebody.experts.assemble.duplicates import same_skeleton

log = logging.getLogger(__name__)

# (square side, margin above the face's top), in face sides, tried in turn until one crop gives
# that face's body.  Measured on insightface_t1.jpg (the woman behind the others, face 103 px):
# sides 3-5 found her, but not at every margin (3 / 0.5 and 5 / 0.5: presence 0.01 and 0.25);
# 6 and 7 gave the man in front of her.  4 / 0.5 and 4 / 1.0 both found her.
SEARCH_TRIES = ((4.0, 0.5), (5.0, 1.0))
MIN_FACE_SCORE = 0.6  # the face detectors' weak detections are often not faces
MIN_FACE_SIDE = 12.0  # pixels: smaller faces give crops the body model cannot read
MIN_PRESENCE = 0.5  # BlazePose's pose-present probability a searched body needs
TAKEN_MARGIN = 0.25  # a kept person's nose this far (of the face size) outside the face still takes it
NOSE_MARGIN = 0.1  # a searched body's nose must lie in the face box grown by this
HEAD_SCORE = 0.3  # a nose scored below this says nothing about whose face it is
FACE_SEARCH_SCORE = 0.5  # a found person's box score: this x the face score (ranked below detected people)
NOSE = 0


def nose_in_face(person, face_box: np.ndarray, margin: float) -> bool:
    """Whether ``person``'s nose, scored above ``HEAD_SCORE``, lies in ``face_box`` grown by ``margin`` per side."""
    return person.keypoints[NOSE, 2] > HEAD_SCORE and inside(person.keypoints[NOSE, :2], grow_box(face_box, margin))


def face_is_taken(face_box: np.ndarray, people: list, margin: float = TAKEN_MARGIN) -> bool:
    """Whether a kept person's confident nose lies in ``face_box`` (grown by ``margin`` per side)."""
    return any(nose_in_face(p, face_box, margin) for p in people)


def search_box(face_box: np.ndarray, image_shape: tuple, side: float = SEARCH_TRIES[0][0],
               above: float = SEARCH_TRIES[0][1]) -> np.ndarray | None:
    """The face-anchored search square: ``side`` face sides wide, centred on the face horizontally,
    from ``above`` face sides above its top, clipped to the image; None when empty."""
    height, width = image_shape[:2]
    x, y, w, h = (float(v) for v in face_box)
    face = max(w, h)
    x0 = max(0.0, x + w / 2 - side * face / 2)
    y0 = max(0.0, y - above * face)
    x1 = min(float(width), x + w / 2 + side * face / 2)
    y1 = min(float(height), y - above * face + side * face)
    if x1 - x0 <= 1 or y1 - y0 <= 1:
        return None
    return np.array([x0, y0, x1 - x0, y1 - y0])


def search_from_faces(image: np.ndarray, faces: list, people: list, bodies: list, scores: list, priors: list,
                      from_prior: list, run_body) -> int:
    """Add (in place, lists kept aligned) the people found from faces that no kept person holds.

    Args:
        image: the (H, W, 3) uint8 RGB image.
        faces: whole-image face detections with ``box`` ``[x, y, w, h]`` and ``score``.
        people, bodies, scores, priors, from_prior: the estimator's kept people after duplicate
            removal (``Person``, ``BodyLandmarks``, box score, detector points or None, whether
            the body is the detector's).
        run_body: ``(image, box_xywh) -> (Person or None, BodyLandmarks)``.
    Returns:
        the number of people added.
    """
    added = 0
    for face in faces:
        box = np.asarray(face.box, dtype=np.float64)
        if face.score < MIN_FACE_SCORE or max(box[2:]) < MIN_FACE_SIDE or face_is_taken(box, people):
            continue
        person, body, crop_box = _search(image, box, people, run_body)
        if person is None:
            continue
        person.bbox = crop_box
        people.append(person)
        bodies.append(body)
        scores.append(FACE_SEARCH_SCORE * float(face.score))
        # NaN detector points, as for carried boxes: the others' detector points stay usable (``fusion.claimed_heads``)
        priors.append(np.full((17, 3), np.nan) if any(prior is not None for prior in priors) else None)
        from_prior.append(False)
        added += 1
    return added


def _search(image: np.ndarray, face_box: np.ndarray, people: list, run_body):
    """(Person, BodyLandmarks, search box) of the first ``SEARCH_TRIES`` crop whose body is this face's
    person and nobody's already kept, or (None, None, None)."""
    for side, above in SEARCH_TRIES:
        crop_box = search_box(face_box, image.shape, side, above)
        if crop_box is None:
            continue
        person, body = run_body(image, crop_box)
        if person is None or body.score < MIN_PRESENCE:
            continue
        nose = person.keypoints[NOSE, :2]
        if not inside(nose, grow_box(face_box, NOSE_MARGIN)):
            log.debug("face search at %s found a body whose nose %s is elsewhere", np.round(face_box), np.round(nose))
            continue
        if not any(same_skeleton(person.keypoints, other.keypoints) for other in people):
            return person, body, crop_box
    return None, None, None
