"""MediaPipe layouts: BlazePose 33, hand 21 and the 468-point face mesh, mapped to 133.

Pose: the 17 COCO body points are direct landmarks; big toe <- ``foot_index`` and heel <-
``heel``.  No MediaPipe landmark observes the small toes, so they map to -1 (score 0).
Hand: MediaPipe's 21 hand landmarks use COCO-WholeBody's order (wrist, then each finger
base to tip), so the map is the identity onto one hand block.
Face mesh: ``FACEMESH_TO_IBUG68[k]`` is the mesh vertex used for iBUG/300-W point k.  The
mesh has no annotated 68-point subset, so this is a choice: for each iBUG point the mesh
vertex on the same contour (jaw line, brow top edge, nose ridge, nostril base, eyelid
margin, lip borders) at the matching position, picked on the canonical face model.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from wholebody.schema import cocowb
from wholebody.schema.layout import KeypointLayout

POSE33_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)
_POSE_TO_WB_NAME = {"left_foot_index": "left_big_toe", "right_foot_index": "right_big_toe"}
_pose_to_wb = [
    cocowb.KEYPOINT_NAMES.index(_POSE_TO_WB_NAME.get(n, n)) if _POSE_TO_WB_NAME.get(n, n) in cocowb.KEYPOINT_NAMES[:23] else -1
    for n in POSE33_NAMES
]


def _lr_pairs(names):
    return tuple(
        (i, names.index("right_" + n[5:])) for i, n in enumerate(names) if n.startswith("left_") and "right_" + n[5:] in names
    )


MEDIAPIPE_POSE33 = KeypointLayout(
    name="mediapipe_pose33",
    keypoints=POSE33_NAMES,
    parts={"body": slice(0, 33)},
    flip_pairs=_lr_pairs(POSE33_NAMES) + ((9, 10),),
    skeleton=(
        (11, 12), (11, 13), (13, 15), (12, 14), (14, 16), (11, 23), (12, 24), (23, 24), (23, 25),
        (25, 27), (24, 26), (26, 28), (27, 29), (29, 31), (27, 31), (28, 30), (30, 32), (28, 32),
        (15, 17), (15, 19), (15, 21), (17, 19), (16, 18), (16, 20), (16, 22), (18, 20),
        (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10),
    ),
    to_wholebody=_pose_to_wb,
)

# MediaPipe's hand landmarks are in COCO-WholeBody hand order: the same layout under its own name.
MEDIAPIPE_HAND21 = replace(cocowb.HAND21, name="mediapipe_hand21")

# fmt: off
FACEMESH_TO_IBUG68 = np.array([
    # jaw 0-16 (subject's right ear -> chin -> left ear)
    162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389,
    # brows 17-21 (right), 22-26 (left): the upper brow contour (70 and 300 are its outer ends)
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    # nose bridge 27-30, nostril row 31-35
    168, 197, 5, 4, 75, 97, 2, 326, 305,
    # right eye 36-41, left eye 42-47 (outer corner first, clockwise in the image)
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    # outer lips 48-59
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,
    # inner lips 60-67
    78, 82, 13, 312, 308, 317, 14, 87,
])
# fmt: on
FACEMESH_TO_IBUG68.setflags(write=False)
NUM_FACEMESH = 468


def facemesh_to_ibug68(mesh: np.ndarray) -> np.ndarray:
    """Select the 68 iBUG/300-W points (68, C) from face-mesh landmarks (>= 468, C)."""
    mesh = np.asarray(mesh)
    if mesh.shape[-2] < NUM_FACEMESH:
        raise ValueError(f"face mesh needs >= {NUM_FACEMESH} landmarks, got shape {mesh.shape}")
    return mesh[..., FACEMESH_TO_IBUG68, :]
