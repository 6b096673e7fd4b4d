"""Body-only layouts of other keypoint benchmarks, each mapped onto the COCO-WholeBody 133 order.

CrowdPose-14, AI Challenger-14 (AIC), MPII-16 (in the COCO-style form mmpose converts it to)
and Halpe-26 (AlphaPose's body + feet subset of Halpe-136).  Their head-top, neck, thorax and
pelvis points have no COCO-WholeBody counterpart (``to_wholebody`` -1); such points are matched
between two layouts by the shared names in :data:`EXTRA_POINT_NAMES` instead.
"""

from __future__ import annotations

from wholebody.schema import cocowb
from wholebody.schema.layout import KeypointLayout

# Points outside the 133 order, by the canonical name each layout's own name stands for.
# CrowdPose's and Halpe's "head" is the top of the head (as AIC's and MPII's "head_top");
# Halpe's "hip" is the mid-hip (MPII's "pelvis").  MPII's upper neck and thorax stay apart
# from the other layouts' "neck", which none of their papers defines as the same point.
EXTRA_POINT_NAMES: dict[str, str] = {
    "head": "head_top", "head_top": "head_top", "neck": "neck", "hip": "mid_hip", "pelvis": "mid_hip",
    "thorax": "thorax", "upper_neck": "upper_neck",
}


def _layout(name, keypoints, flip_names, links) -> KeypointLayout:
    """A body layout whose COCO points are found by name in the COCO-WholeBody names."""
    index = {n: i for i, n in enumerate(keypoints)}
    to_wb = [cocowb.KEYPOINT_NAMES.index(n) if n in cocowb.KEYPOINT_NAMES else -1 for n in keypoints]
    return KeypointLayout(
        name=name,
        keypoints=tuple(keypoints),
        parts={"body": slice(0, len(keypoints))},
        flip_pairs=tuple((index["left_" + n], index["right_" + n]) for n in flip_names),
        skeleton=tuple((index[a], index[b]) for a, b in links),
        to_wholebody=to_wb,
    )


_LIMBS = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
_ARM_LEG_LINKS = tuple(
    (f"{side}_{a}", f"{side}_{b}") for side in ("left", "right")
    for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"), ("shoulder", "hip"))
) + (("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"))

CROWDPOSE14 = _layout(
    "crowdpose14",
    [f"{side}_{limb}" for limb in _LIMBS for side in ("left", "right")] + ["head", "neck"],
    _LIMBS,
    _ARM_LEG_LINKS + (("head", "neck"), ("neck", "left_shoulder"), ("neck", "right_shoulder")),
)
AIC14 = _layout(
    "aic14",
    [f"{side}_{limb}" for side in ("right", "left") for limb in ("shoulder", "elbow", "wrist")]
    + [f"{side}_{limb}" for side in ("right", "left") for limb in ("hip", "knee", "ankle")] + ["head_top", "neck"],
    _LIMBS,
    _ARM_LEG_LINKS + (("head_top", "neck"), ("neck", "left_shoulder"), ("neck", "right_shoulder")),
)
MPII16 = _layout(
    "mpii16",
    ["right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis", "thorax",
     "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
     "left_wrist"],
    _LIMBS,
    (("right_ankle", "right_knee"), ("right_knee", "right_hip"), ("right_hip", "pelvis"), ("pelvis", "left_hip"),
     ("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("pelvis", "thorax"), ("thorax", "upper_neck"),
     ("upper_neck", "head_top"), ("right_wrist", "right_elbow"), ("right_elbow", "right_shoulder"),
     ("right_shoulder", "thorax"), ("thorax", "left_shoulder"), ("left_shoulder", "left_elbow"),
     ("left_elbow", "left_wrist")),
)
_HALPE26_FEET = ("left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe", "left_heel", "right_heel")
HALPE26 = _layout(
    "halpe26",
    list(cocowb.BODY_NAMES) + ["head", "neck", "hip"] + list(_HALPE26_FEET),
    ("eye", "ear") + _LIMBS + ("big_toe", "small_toe", "heel"),
    tuple((cocowb.KEYPOINT_NAMES[a], cocowb.KEYPOINT_NAMES[b]) for a, b in cocowb.BODY_LINKS)
    + (("head", "nose"), ("neck", "head"), ("neck", "left_shoulder"), ("neck", "right_shoulder"), ("hip", "neck"),
       ("hip", "left_hip"), ("hip", "right_hip"), ("left_ankle", "left_big_toe"), ("left_ankle", "left_small_toe"),
       ("left_ankle", "left_heel"), ("right_ankle", "right_big_toe"), ("right_ankle", "right_small_toe"),
       ("right_ankle", "right_heel")),
)
