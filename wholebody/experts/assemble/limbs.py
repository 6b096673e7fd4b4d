"""Limb points that are not their person's: on someone's face, or a forearm another person owns.

In groups, BlazePose on one person's crop sometimes follows a neighbour's limb, or puts the
shoulders up on the person's own chin (faceapi_sample6: the woman in the striped dress, her
shoulders on her face with score 1.0).  Two rules, both on COCO-WholeBody body indices
(original pixels, boxes ``[x, y, w, h]``):

* ``limbs_off_faces``: no body point on another person's face (a face box holding that other
  person's nose) is this person's, nor an elbow, hip, knee or ankle on its own face, nor both
  shoulders (``wrong_on_faces``).  A wrist on its own face is fine (a hand on the chin), and so is
  one shoulder (the chin over a shoulder).  Such a point takes
  the detector's (MoveNet's) point for that joint when that one is off every face it may not be
  on and scored above ``PRIOR_SCORE`` (even when the point itself is scored low: its place
  still shapes the torso that ``shared_forearms`` uses); otherwise its score drops to
  ``NOT_MINE_SCORE`` (the point stays, so the hand and face crops still have an anchor, but
  it is not drawn and counts little in OKS).
* ``shared_forearms``: two people whose forearms (elbow and wrist) coincide cannot both own
  it, nor an upper arm (shoulder and elbow, ``shared_arm``: faceapi_sample6, where the woman in
  green was given the striped-dress woman's arm down to an elbow whose wrist was not shown).  The one whose own upper arm does not reach into the other person (its elbow outside the
  other's torso box: shoulders and hips, grown by ``TORSO_MARGIN``) keeps it; the other's elbow and wrist scores drop to
  ``NOT_MINE_SCORE``.  When both or neither reach, nothing changes (no evidence).
  faceapi_sample4: the blonde woman's left forearm was the patterned-dress woman's, her elbow
  inside that woman's torso.

A demoted wrist (score ``NOT_MINE_SCORE``) takes no hand in ``person.attach_hands``, so the hand
at a shared forearm goes to its owner only.
"""

from __future__ import annotations

import logging

import numpy as np

from wholebody.experts.assemble.association import grow_box, inside
from wholebody.experts.assemble.face_search import MIN_FACE_SCORE, nose_in_face  # faces confident enough to act on

log = logging.getLogger(__name__)

SHOULDERS, ELBOWS, WRISTS, HIPS = (5, 6), (7, 8), (9, 10), (11, 12)  # COCO-WholeBody indices, in SIDES order
SIDES = ("left", "right")
LIMB_POINTS = tuple(range(5, 17))  # shoulders, elbows, wrists, hips, knees, ankles
OWN_FACE_OK = WRISTS  # a hand may touch its own face
NOT_MINE_SCORE = 0.1
PRIOR_SCORE = 0.2  # a detector point scored below this is no better evidence than none
OWNER_MARGIN = 0.1  # a nose in the face box grown by this (per side) makes that person its owner
SAME_FOREARM = 0.3  # forearms coincide when both ends are closer than this x the forearm length
TORSO_MARGIN = 0.1  # an elbow at the edge of the other's torso box (its own arm hangs there) still reaches in
SHOWN_SCORE = 0.3  # only points above this (drawn, used) are checked for shared forearms


def face_owners(face_boxes: list[np.ndarray], people: list) -> list[set[int]]:
    """Per face box, the indices of the people whose confident nose lies in it (grown by ``OWNER_MARGIN``)."""
    return [{i for i, p in enumerate(people) if nose_in_face(p, box, OWNER_MARGIN)} for box in face_boxes]


def wrong_on_faces(keypoints: np.ndarray, person: int, face_boxes: list, owners: list[set[int]]) -> np.ndarray:
    """(17,) whether each body point of person index ``person`` lies on a face it may not be on.

    Any limb point on a face owned by others; on its own face: elbows, hips, knees, ankles, and
    the shoulders when both are there (a torso collapsed onto the head).  One shoulder at its
    own chin is a person looking over that shoulder (faceapi_sample4, insightface_t1), and a
    wrist there is a hand on the face.
    """
    points = np.asarray(keypoints, dtype=np.float64)[:17, :2]
    finite = np.isfinite(points).all(axis=1)
    wrong = np.zeros(17, dtype=bool)
    limbs = np.isin(np.arange(17), LIMB_POINTS)
    for box, owner in zip(face_boxes, owners):
        on = finite & np.array([inside(point, box) for point in points]) & limbs
        if person not in owner:
            wrong |= on
            continue
        never_on_own = on & ~np.isin(np.arange(17), SHOULDERS + OWN_FACE_OK)
        wrong |= never_on_own
        if on[list(SHOULDERS)].all():
            wrong[list(SHOULDERS)] = True
    return wrong


def _free_of_faces(point: np.ndarray, joint: int, person: int, face_boxes: list, owners: list[set[int]]) -> bool:
    """Whether a replacement point lies on no owned face (a wrist may lie on its own)."""
    return bool(np.isfinite(point[:2]).all()) and not any(
        inside(point[:2], box) and (person not in owner or joint not in OWN_FACE_OK)
        for box, owner in zip(face_boxes, owners))


def limbs_off_faces(people: list, priors: list, face_boxes: list[np.ndarray]) -> int:
    """Move or demote (in place) the limb points that lie on a face they may not be on (module docstring).

    Only faces that hold a person's confident nose count (``face_owners``): a face detection
    nobody owns may be a false one (faceapi_sample1: a badge on a chest, score 0.68, under a
    true shoulder).

    Args:
        people: ``Person`` per kept person, body points filled (COCO-WholeBody order).
        priors: per person, (17, 3) detector points (x, y, score) or None.
        face_boxes: ``[x, y, w, h]`` whole-image face detections.
    Returns:
        the number of points changed.
    """
    boxes = [np.asarray(box, dtype=np.float64) for box in face_boxes]
    owners = face_owners(boxes, people)
    boxes, owners = [b for b, o in zip(boxes, owners) if o], [o for o in owners if o]
    if not boxes:
        return 0
    changed = 0
    for i, person in enumerate(people):
        prior = None if i >= len(priors) or priors[i] is None else np.asarray(priors[i], dtype=np.float64)
        for joint in np.flatnonzero(wrong_on_faces(person.keypoints, i, boxes, owners)):
            replacement = None if prior is None else prior[joint]
            if (replacement is not None and np.isfinite(replacement).all() and replacement[2] > PRIOR_SCORE
                    and _free_of_faces(replacement, joint, i, boxes, owners)):
                # also for a weakly scored point: its place still shapes the torso (``shared_forearms``)
                log.debug("person %d joint %d on a face: the detector's point %s instead", i, joint,
                          np.round(replacement[:2]))
                person.keypoints[joint] = replacement
            elif person.keypoints[joint, 2] > NOT_MINE_SCORE:
                person.keypoints[joint, 2] = NOT_MINE_SCORE
            else:
                continue
            changed += 1
    return changed


def torso_box(keypoints: np.ndarray) -> np.ndarray | None:
    """``[x, y, w, h]`` extent of a person's shoulders and hips (finite ones; None with fewer than 3)."""
    torso = np.asarray(keypoints, dtype=np.float64)[list(SHOULDERS + HIPS), :2]
    torso = torso[np.isfinite(torso).all(axis=1)]
    if len(torso) < 3:
        return None
    low, high = torso.min(axis=0), torso.max(axis=0)
    return np.concatenate([low, high - low])


def _reaches_into(keypoints: np.ndarray, side: int, other_torso: np.ndarray | None) -> bool:
    """Whether the ``side`` elbow lies in the other person's torso box grown by ``TORSO_MARGIN`` per side."""
    return other_torso is not None and inside(keypoints[ELBOWS[side], :2], grow_box(other_torso, TORSO_MARGIN))


def shared_forearms(people: list) -> int:
    """Demote (in place) the forearm of the person who does not own a forearm two people share.

    Returns:
        the number of forearms demoted.
    """
    demoted = 0
    torsos = [torso_box(p.keypoints) for p in people]
    for i in range(len(people)):
        for j in range(i + 1, len(people)):
            for a in (0, 1):
                for b in (0, 1):
                    a_kp, b_kp = people[i].keypoints, people[j].keypoints
                    if not shared_arm(a_kp, a, b_kp, b):
                        continue
                    i_reaches, j_reaches = _reaches_into(a_kp, a, torsos[j]), _reaches_into(b_kp, b, torsos[i])
                    if i_reaches == j_reaches:
                        continue
                    loser, side = (a_kp, a) if i_reaches else (b_kp, b)
                    loser[[ELBOWS[side], WRISTS[side]], 2] = np.minimum(loser[[ELBOWS[side], WRISTS[side]], 2],
                                                                        NOT_MINE_SCORE)
                    demoted += 1
    return demoted


def shared_arm(first: np.ndarray, first_side: int, second: np.ndarray, second_side: int) -> bool:
    """Whether two people's arms (keypoints, side 0 left / 1 right) coincide: the forearms (elbow and
    wrist), or the upper arms (shoulder and elbow; a shared elbow whose wrist is not shown)."""
    return any(_coincide(first[[ELBOWS[first_side], far[first_side]]], second[[ELBOWS[second_side], far[second_side]]])
               for far in (WRISTS, SHOULDERS))


def _coincide(first: np.ndarray, second: np.ndarray) -> bool:
    """Whether two (2, 3) limb segments (x, y, score per end), all ends shown, have both ends together."""
    if (first[:, 2] <= SHOWN_SCORE).any() or (second[:, 2] <= SHOWN_SCORE).any():
        return False
    length = max(float(np.hypot(*(first[0, :2] - first[1, :2]))), float(np.hypot(*(second[0, :2] - second[1, :2]))))
    gaps = np.hypot(*(first[:, :2] - second[:, :2]).T)
    return bool(length > 0 and (gaps < SAME_FOREARM * length).all())


def fix_limbs(people: list, priors: list, faces: list) -> None:
    """Both rules, faces first (a point moved off a face may then form a shared forearm).

    Args:
        people, priors: as for ``limbs_off_faces``.
        faces: whole-image face detections with ``box`` and ``score``; those below
            ``MIN_FACE_SCORE`` are not used (a weak face on a chest would demote true shoulders).
    """
    limbs_off_faces(people, priors, [face.box for face in faces if face.score >= MIN_FACE_SCORE])
    shared_forearms(people)
