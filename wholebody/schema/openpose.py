"""OpenPose's BODY_25, FACE_70 and HAND_21 layouts expressed on the COCO-WholeBody 133 points.

BODY_25 (OpenPose's default body model) in its own order, with the wholebody index (or indices)
each point is taken from:

====  ==========  =====================  ====  ==========  ============
 #    name        wholebody               #    name        wholebody
====  ==========  =====================  ====  ==========  ============
 0    Nose        0 nose                 13    LKnee       13
 1    Neck        mean of 5, 6           14    LAnkle      15
 2    RShoulder   6                      15    REye        2
 3    RElbow      8                      16    LEye        1
 4    RWrist      10                     17    REar        4
 5    LShoulder   5                      18    LEar        3
 6    LElbow      7                      19    LBigToe     17
 7    LWrist      9                      20    LSmallToe   18
 8    MidHip      mean of 11, 12         21    LHeel       19
 9    RHip        12                     22    RBigToe     20
 10   RKnee       14                     23    RSmallToe   21
 11   RAnkle      16                     24    RHeel       22
 12   LHip        11
====  ==========  =====================  ====  ==========  ============

Neck and MidHip have no COCO point: their position is the mean of the two shoulders (hips) and
their score the *smaller* of the two scores, so a neck is only as sure as its weaker shoulder
(and is 0 when either shoulder is unseen, as OpenPose leaves a neck it cannot place).  The small
toes are whatever the estimator gives at wholebody 18 / 21 (the default part experts: score 0,
no model observes them; see ``wholebody.experts.landmarks.feet``).

FACE_70 is the 68 iBUG 300-W points (wholebody 23..90, same order) plus two pupils, which no
wholebody model predicts: point 68 is the centre of iBUG 36..41 (the subject's right eye
contour), point 69 the centre of iBUG 42..47 (left eye), each with the smallest score of its
six contour points.  HAND_21 is the wholebody hand order unchanged (wrist, then thumb, index,
middle, ring and little finger, base to tip): left hand 91..111, right hand 112..132.
"""

from __future__ import annotations

import numpy as np

BODY25_NAMES = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip", "RHip",
    "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar", "LBigToe", "LSmallToe",
    "LHeel", "RBigToe", "RSmallToe", "RHeel",
)
# Wholebody source(s) of each BODY_25 point, in BODY_25 order; a pair is averaged (docstring).
BODY25_FROM_WHOLEBODY: tuple[tuple[int, ...], ...] = (
    (0,), (5, 6), (6,), (8,), (10,), (5,), (7,), (9,), (11, 12), (12,), (14,), (16,), (11,), (13,), (15,),
    (2,), (1,), (4,), (3,), (17,), (18,), (19,), (20,), (21,), (22,),
)
FACE70_PUPILS_FROM_IBUG68 = (tuple(range(36, 42)), tuple(range(42, 48)))  # right eye, left eye
FACE_START, LEFT_HAND_START, RIGHT_HAND_START = 23, 91, 112


def _gather(points: np.ndarray, sources) -> np.ndarray:
    """(len(sources), C) rows: coordinates averaged over each source group, last column its minimum."""
    out = np.zeros((len(sources), points.shape[1]))
    for row, group in enumerate(sources):
        chosen = points[list(group)]
        out[row, :-1] = chosen[:, :-1].mean(axis=0)
        out[row, -1] = chosen[:, -1].min()
    return out


def body25_from_wholebody(keypoints: np.ndarray) -> np.ndarray:
    """(25, C) BODY_25 points from (133, C) wholebody points (C = 3: x, y, score; or 4: x, y, z, score)."""
    return _gather(np.asarray(keypoints, dtype=np.float64), BODY25_FROM_WHOLEBODY)


def face70_from_ibug68(face: np.ndarray) -> np.ndarray:
    """(70, C) FACE_70 points from (68, C) iBUG points: the 68 unchanged plus the two pupils."""
    face = np.asarray(face, dtype=np.float64)
    return np.concatenate([face, _gather(face, FACE70_PUPILS_FROM_IBUG68)], axis=0)
