"""DOPE part layouts: which keypoints each part branch (body, hand, face) predicts.

Two layouts come from the same model code:

* ``"wholebody"`` (the default): body 23 = COCO-WholeBody points 0..22 (COCO-17 + 6 feet),
  hand 21 in COCO-WholeBody order (wrist, then each finger base to tip), face 68 (iBUG order).
  Every point maps onto the 133 layout, so the output can be scored with ``wholebody eval``.
* ``"paper"``: the DOPE paper's body 13 (with a head-top point), hand 21 (DOPE order) and face 84
  (iBUG with a 33-point jaw), from ``wholebody.schema``.  Mapping to 133 drops the head top and
  the 16 extra jaw points.

The hand branch predicts both sides: classes ``0 .. K/2 - 1`` are right hands and ``K/2 .. K - 1``
left hands (DOPE's convention, right first).  Hand keypoint layouts map onto the *right* hand
block of the 133 layout; ``schema.hand_to_wholebody`` moves a left hand to its own block.

3D frames (metres, camera-aligned axes x right, y down, z away): the body relative to the
mid-point of its two hips, a hand relative to its wrist, a face relative to its landmark
centroid (``types.Person`` conventions).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from wholebody.schema import DOPE_BODY13, DOPE_FACE84, DOPE_HAND21, KeypointLayout, cocowb

PART_NAMES: tuple[str, ...] = ("body", "hand", "face")

WB_BODY23 = KeypointLayout(
    name="wholebody_body23",
    keypoints=cocowb.KEYPOINT_NAMES[:23],
    parts={"body": slice(0, 23)},
    flip_pairs=tuple(p for p in cocowb.FLIP_PAIRS if p[1] < 23),
    skeleton=cocowb.BODY_LINKS + cocowb.FOOT_LINKS,
    to_wholebody=np.arange(23),
)
WB_HAND21 = replace(cocowb.HAND21, name="wholebody_hand21")
WB_FACE68 = KeypointLayout(
    name="wholebody_face68",
    keypoints=cocowb.FACE_NAMES,
    parts={"face": slice(0, 68)},
    flip_pairs=tuple((a - 23, b - 23) for a, b in cocowb.FLIP_PAIRS if 23 <= a < 91),
    skeleton=tuple((a - 23, b - 23) for a, b in cocowb.FACE_LINKS),
    to_wholebody=np.arange(23, 91),
)


@dataclass(frozen=True)
class DopeLayout:
    """Keypoint layouts and the few landmark indices post-processing needs.

    Attributes:
        name: ``"wholebody"`` or ``"paper"``.
        parts: part name -> its keypoint layout.
        body_hips: (left, right) hip indices in the body layout (3D root = their mid-point).
        body_wrists: (left, right) wrist indices in the body layout.
        body_head: the body point that must fall inside a face box to attach that face.
        hand_wrist: wrist index in the hand layout (3D root of a hand).
        num_anchor_poses: default number of anchor poses (classes) per part; the hand count
            covers both sides (even).
    """

    name: str
    parts: dict[str, KeypointLayout]
    body_hips: tuple[int, int]
    body_wrists: tuple[int, int]
    body_head: int
    hand_wrist: int
    num_anchor_poses: dict[str, int]

    def num_joints(self, part: str) -> int:
        return self.parts[part].num_keypoints

    def root_3d(self, part: str, points3d: np.ndarray) -> np.ndarray:
        """The 3D origin of a part's frame: (..., J, 3) -> (..., 3) (module docstring)."""
        if part == "body":
            return points3d[..., list(self.body_hips), :].mean(axis=-2)
        if part == "hand":
            return points3d[..., self.hand_wrist, :]
        return points3d.mean(axis=-2)


WHOLEBODY = DopeLayout(
    name="wholebody",
    parts={"body": WB_BODY23, "hand": WB_HAND21, "face": WB_FACE68},
    body_hips=(11, 12),
    body_wrists=(9, 10),
    body_head=0,  # the nose: always inside the face box
    hand_wrist=0,
    num_anchor_poses={"body": 20, "hand": 10, "face": 10},
)
PAPER = DopeLayout(
    name="paper",
    parts={"body": DOPE_BODY13, "hand": DOPE_HAND21, "face": DOPE_FACE84},
    body_hips=(5, 4),
    body_wrists=(7, 6),
    body_head=12,
    hand_wrist=0,
    num_anchor_poses={"body": 20, "hand": 10, "face": 10},
)
LAYOUTS: dict[str, DopeLayout] = {"wholebody": WHOLEBODY, "paper": PAPER}


def get_layout(name: str | DopeLayout) -> DopeLayout:
    if isinstance(name, DopeLayout):
        return name
    try:
        return LAYOUTS[name]
    except KeyError:
        raise ValueError(f"unknown DOPE layout {name!r}; choose one of {sorted(LAYOUTS)}") from None
