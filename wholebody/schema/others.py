"""Other layouts the project reads or writes, each mapped onto the COCO-WholeBody 133 order.

Points with no COCO-WholeBody counterpart map to -1 (e.g. Halpe's head/neck/mid-hip, DOPE's
head point); conversions fill them with 0 so their score reads 0.
"""

from __future__ import annotations

import numpy as np

from wholebody.schema import cocowb
from wholebody.schema.layout import KeypointLayout


def _chain_links(chains):
    return tuple((a, b) for chain in chains for a, b in zip(chain, chain[1:]))


# ---- COCO-17 (body only) ---------------------------------------------------------------
COCO17 = KeypointLayout(
    name="coco17",
    keypoints=cocowb.BODY_NAMES,
    parts={"body": slice(0, 17)},
    flip_pairs=tuple(p for p in cocowb.FLIP_PAIRS if p[1] < 17),
    skeleton=cocowb.BODY_LINKS,
    to_wholebody=np.arange(17),
)

# ---- Halpe-136 (Halpe-FullBody) -----------------------------------------------------------
# 0-16 COCO body, 17 head, 18 neck, 19 hip (mid-hip), 20-25 toes/heels (left/right interleaved),
# 26-93 face-68, 94-114 left hand, 115-135 right hand.
_HALPE_FEET = ("left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe", "left_heel", "right_heel")
_HALPE_NAMES = (
    cocowb.BODY_NAMES + ("head", "neck", "hip") + _HALPE_FEET
    + cocowb.FACE_NAMES + cocowb.LEFT_HAND_NAMES + cocowb.RIGHT_HAND_NAMES
)
_halpe_to_wb = np.concatenate([
    np.arange(17),
    [-1, -1, -1],
    [cocowb.KEYPOINT_NAMES.index(n) for n in _HALPE_FEET],
    np.arange(23, 133),
])
_wb_to_halpe = {int(w): h for h, w in enumerate(_halpe_to_wb) if w >= 0}
HALPE136 = KeypointLayout(
    name="halpe136",
    keypoints=_HALPE_NAMES,
    parts={"body": slice(0, 26), "face": slice(26, 94), "lefthand": slice(94, 115), "righthand": slice(115, 136)},
    flip_pairs=tuple((_wb_to_halpe[a], _wb_to_halpe[b]) for a, b in cocowb.FLIP_PAIRS),
    skeleton=tuple((_wb_to_halpe[a], _wb_to_halpe[b]) for a, b in cocowb.SKELETON)
    + ((17, 0), (18, 5), (18, 6), (19, 11), (19, 12)),
    to_wholebody=_halpe_to_wb,
)

# ---- DOPE (Weinzaepfel et al. 2020): body 13, hand 21, face 84 ---------------------------
DOPE_BODY13 = KeypointLayout(
    name="dope_body13",
    keypoints=(
        "right_ankle", "left_ankle", "right_knee", "left_knee", "right_hip", "left_hip", "right_wrist",
        "left_wrist", "right_elbow", "left_elbow", "right_shoulder", "left_shoulder", "head",
    ),
    parts={"body": slice(0, 13)},
    flip_pairs=((0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11)),
    skeleton=((0, 2), (2, 4), (1, 3), (3, 5), (4, 5), (6, 8), (8, 10), (7, 9), (9, 11), (10, 11), (4, 10), (5, 11), (12, 10), (12, 11)),
    # "head" (head top) has no COCO-WholeBody point.
    to_wholebody=[16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, -1],
)
# DOPE hand: 0 wrist, 1..5 first joint of thumb/index/middle/ring/pinky, then 3 joints per finger:
# finger n's chain is 0 -> n+1 -> 3n+6 -> 3n+7 -> 3n+8.  COCO hand: finger n is 1+4n .. 4+4n.
_dope_hand_to_coco = np.zeros(21, dtype=np.int64)
for _n in range(5):
    _dope_hand_to_coco[[_n + 1, 3 * _n + 6, 3 * _n + 7, 3 * _n + 8]] = [1 + 4 * _n, 2 + 4 * _n, 3 + 4 * _n, 4 + 4 * _n]
_coco_hand_names = cocowb.HAND_JOINTS
DOPE_HAND21 = KeypointLayout(
    name="dope_hand21",
    keypoints=tuple(_coco_hand_names[i] for i in _dope_hand_to_coco),
    parts={"hand": slice(0, 21)},
    flip_pairs=(),
    skeleton=_chain_links([[0, n + 1, 3 * n + 6, 3 * n + 7, 3 * n + 8] for n in range(5)]),
    # A single hand is mapped onto the *right* hand block; use ``hand_to_wholebody`` for a side.
    to_wholebody=112 + _dope_hand_to_coco,
)
# DOPE face 84: iBUG-68 with a 33-point jaw.  The 17 iBUG jaw points are every other jaw point
# (0, 2, ..., 32); iBUG point k >= 17 is DOPE point k + 16.
_dope_face_to_ibug = np.full(84, -1, dtype=np.int64)
_dope_face_to_ibug[0:33:2] = np.arange(17)
_dope_face_to_ibug[33:] = np.arange(17, 68)
DOPE_FACE84 = KeypointLayout(
    name="dope_face84",
    keypoints=tuple(f"jaw-{i}" for i in range(33)) + cocowb.FACE_NAMES[17:],
    parts={"face": slice(0, 84)},
    flip_pairs=tuple((i, 32 - i) for i in range(16))
    + tuple((int(np.flatnonzero(_dope_face_to_ibug == a - 23)[0]), int(np.flatnonzero(_dope_face_to_ibug == b - 23)[0]))
            for a, b in cocowb.FLIP_PAIRS if 23 + 17 <= a < 91 and 23 + 17 <= b < 91),
    skeleton=_chain_links([list(range(0, 33)), list(range(33, 38)), list(range(38, 43)), list(range(43, 47)),
                           list(range(47, 52)), list(range(52, 58)) + [52], list(range(58, 64)) + [58],
                           list(range(64, 76)) + [64], list(range(76, 84)) + [76]]),
    to_wholebody=np.where(_dope_face_to_ibug >= 0, 23 + _dope_face_to_ibug, -1),
)


def hand_to_wholebody(points: np.ndarray, right: bool, layout: KeypointLayout) -> np.ndarray:
    """Place one hand (21, C) of a 21-point hand layout into a 133 array on the given side."""
    from wholebody.schema.layout import to_wholebody

    out = to_wholebody(points, layout)
    if not right:  # the hand layouts map onto the right-hand block: move it to the left block
        out[91:112], out[112:133] = out[112:133].copy(), 0
    return out
