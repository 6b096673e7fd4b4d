"""COCO-WholeBody v1.0: the 133-keypoint layout every other module of the project reads.

Order: body 0-16 (COCO-17), foot 17-22, face 23-90 (iBUG/300-W 68 points), left hand 91-111,
right hand 112-132 (wrist, then thumb/fore/middle/ring/pinky 1..4, base to tip).  Sigmas,
flip pairs and skeleton are the official values (COCO-WholeBody evaluation / mmpose metadata);
the sigmas are deliberately *not* left/right symmetric and must stay verbatim.
"""

from __future__ import annotations

import numpy as np

from wholebody.schema.layout import KeypointLayout

PARTS: tuple[str, ...] = ("body", "foot", "face", "lefthand", "righthand")
PART_SIZES: dict[str, int] = {"body": 17, "foot": 6, "face": 68, "lefthand": 21, "righthand": 21}
_starts = np.cumsum([0] + [PART_SIZES[p] for p in PARTS])
PART_SLICES: dict[str, slice] = {p: slice(int(_starts[i]), int(_starts[i + 1])) for i, p in enumerate(PARTS)}

# Keys of the five keypoint blocks (and part score fields) in annotation / result JSON.
JSON_KEYPOINT_FIELDS: dict[str, str] = {
    "body": "keypoints",
    "foot": "foot_kpts",
    "face": "face_kpts",
    "lefthand": "lefthand_kpts",
    "righthand": "righthand_kpts",
}
JSON_BOX_FIELDS: dict[str, str] = {"face": "face_box", "lefthand": "lefthand_box", "righthand": "righthand_box"}
JSON_VALID_FIELDS: dict[str, str] = {
    "foot": "foot_valid",
    "face": "face_valid",
    "lefthand": "lefthand_valid",
    "righthand": "righthand_valid",
}
# Ranking score field per evaluated part; xtcocotools falls back to "score" when one is absent.
JSON_SCORE_FIELDS: dict[str, str] = {
    "body": "score",
    "foot": "foot_score",
    "face": "face_score",
    "lefthand": "lefthand_score",
    "righthand": "righthand_score",
    "wholebody": "wholebody_score",
}

BODY_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
FOOT_NAMES = ("left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel")
FACE_NAMES = tuple(f"face-{k}" for k in range(68))
HAND_JOINTS = ("hand_root",) + tuple(
    f"{finger}{j}" for finger in ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger") for j in range(1, 5)
)
LEFT_HAND_NAMES = tuple("left_" + n for n in HAND_JOINTS)
RIGHT_HAND_NAMES = tuple("right_" + n for n in HAND_JOINTS)
KEYPOINT_NAMES: tuple[str, ...] = BODY_NAMES + FOOT_NAMES + FACE_NAMES + LEFT_HAND_NAMES + RIGHT_HAND_NAMES

# fmt: off
SIGMAS = np.array([
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062,
    0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089, 0.068, 0.066, 0.066,
    0.092, 0.094, 0.094, 0.042, 0.043, 0.044, 0.043, 0.040, 0.035, 0.031,
    0.025, 0.020, 0.023, 0.029, 0.032, 0.037, 0.038, 0.043, 0.041, 0.045,
    0.013, 0.012, 0.011, 0.011, 0.012, 0.012, 0.011, 0.011, 0.013, 0.015,
    0.009, 0.007, 0.007, 0.007, 0.012, 0.009, 0.008, 0.016, 0.010, 0.017,
    0.011, 0.009, 0.011, 0.009, 0.007, 0.013, 0.008, 0.011, 0.012, 0.010,
    0.034, 0.008, 0.008, 0.009, 0.008, 0.008, 0.007, 0.010, 0.008, 0.009,
    0.009, 0.009, 0.007, 0.007, 0.008, 0.011, 0.008, 0.008, 0.008, 0.010,
    0.008, 0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024, 0.035,
    0.018, 0.024, 0.022, 0.026, 0.017, 0.021, 0.021, 0.032, 0.020, 0.019,
    0.022, 0.031, 0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024,
    0.035, 0.018, 0.024, 0.022, 0.026, 0.017, 0.021, 0.021, 0.032, 0.020,
    0.019, 0.022, 0.031,
])
SIGMAS.setflags(write=False)

FLIP_PAIRS = (
    (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16), (17, 20), (18, 21),
    (19, 22), (23, 39), (24, 38), (25, 37), (26, 36), (27, 35), (28, 34), (29, 33), (30, 32),
    (40, 49), (41, 48), (42, 47), (43, 46), (44, 45), (54, 58), (55, 57), (59, 68), (60, 67),
    (61, 66), (62, 65), (63, 70), (64, 69), (71, 77), (72, 76), (73, 75), (78, 82), (79, 81),
    (83, 87), (84, 86), (88, 90),
) + tuple((91 + j, 112 + j) for j in range(21))

BODY_LINKS = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
    (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)
FOOT_LINKS = ((15, 17), (15, 18), (15, 19), (16, 20), (16, 21), (16, 22))
# fmt: on
# Hand links: a wrist-rooted chain per finger (wrist -> 1 -> 2 -> 3 -> 4).
_HAND_LOCAL = tuple(
    (0 if j == 0 else 1 + 4 * f + j - 1, 1 + 4 * f + j) for f in range(5) for j in range(4)
)
LEFT_HAND_LINKS = tuple((91 + a, 91 + b) for a, b in _HAND_LOCAL)
RIGHT_HAND_LINKS = tuple((112 + a, 112 + b) for a, b in _HAND_LOCAL)
# The official metadata has no face links; these follow the 300-W contours so overlays read as a
# face.  They are for drawing only and never enter evaluation.
_FACE_CHAINS = (range(0, 17), range(17, 22), range(22, 27), range(27, 31), range(31, 36))
_FACE_LOOPS = (range(36, 42), range(42, 48), range(48, 60), range(60, 68))
FACE_LINKS = tuple((23 + a, 23 + b) for c in _FACE_CHAINS for a, b in zip(c, list(c)[1:])) + tuple(
    (23 + a, 23 + b) for c in _FACE_LOOPS for a, b in zip(c, list(c)[1:] + [c[0]])
)
SKELETON = BODY_LINKS + FOOT_LINKS + LEFT_HAND_LINKS + RIGHT_HAND_LINKS  # the official 65 links
DRAW_SKELETON = SKELETON + FACE_LINKS

# Part colours (RGB, 0-255) used by every overlay.
PART_COLORS: dict[str, tuple[int, int, int]] = {
    "body": (255, 140, 0),
    "foot": (255, 215, 0),
    "face": (250, 250, 250),
    "lefthand": (0, 200, 80),
    "righthand": (40, 120, 255),
}


def part_of(index: int) -> str:
    """Name of the part that COCO-WholeBody point ``index`` belongs to."""
    for part, sl in PART_SLICES.items():
        if sl.start <= index < sl.stop:
            return part
    raise IndexError(f"keypoint index {index} outside 0..132")


def link_color(i: int, j: int) -> tuple[int, int, int]:
    """Colour of a skeleton link: its end point's part colour (body links by side)."""
    part = part_of(j)
    if part == "body":
        name = KEYPOINT_NAMES[j]
        if name.startswith("left_"):
            return PART_COLORS["lefthand"]
        if name.startswith("right_"):
            return PART_COLORS["righthand"]
    return PART_COLORS[part]


COCO_WHOLEBODY = KeypointLayout(
    name="coco_wholebody",
    keypoints=KEYPOINT_NAMES,
    parts=dict(PART_SLICES),
    flip_pairs=FLIP_PAIRS,
    skeleton=SKELETON,
    to_wholebody=np.arange(133),
)
# One hand in COCO-WholeBody order, placed on the right-hand block (schema.others.hand_to_wholebody
# moves it to the left block); MediaPipe's 21 hand landmarks use this same order.
HAND21 = KeypointLayout(
    name="coco_wholebody_hand21",
    keypoints=HAND_JOINTS,
    parts={"hand": slice(0, 21)},
    flip_pairs=(),
    skeleton=tuple((a - 112, b - 112) for a, b in RIGHT_HAND_LINKS),
    to_wholebody=np.arange(112, 133),
)
SIGMAS_BY_PART: dict[str, np.ndarray] = {p: SIGMAS[s] for p, s in PART_SLICES.items()} | {"wholebody": SIGMAS}
EVAL_PARTS: tuple[str, ...] = PARTS + ("wholebody",)
