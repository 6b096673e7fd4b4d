"""The one keypoint schema: COCO-WholeBody 133 and every layout mapped onto it.

Data loading, evaluation, models and visualisation all read their keypoint names, part
slices, sigmas, flip pairs, skeleton and colours from here.
"""

from wholebody.schema.cocowb import (
    COCO_WHOLEBODY,
    DRAW_SKELETON,
    EVAL_PARTS,
    FLIP_PAIRS,
    JSON_BOX_FIELDS,
    JSON_KEYPOINT_FIELDS,
    JSON_SCORE_FIELDS,
    JSON_VALID_FIELDS,
    KEYPOINT_NAMES,
    PART_COLORS,
    PART_SIZES,
    PART_SLICES,
    PARTS,
    SIGMAS,
    SIGMAS_BY_PART,
    SKELETON,
    link_color,
    part_of,
)
from wholebody.schema.layout import NUM_WHOLEBODY, KeypointLayout, convert, from_wholebody, to_wholebody
from wholebody.schema.mediapipe import (
    FACEMESH_TO_IBUG68,
    MEDIAPIPE_HAND21,
    MEDIAPIPE_POSE33,
    facemesh_to_ibug68,
)
from wholebody.schema.others import COCO17, DOPE_BODY13, DOPE_FACE84, DOPE_HAND21, HALPE136, hand_to_wholebody

from wholebody.schema.body_layouts import AIC14, CROWDPOSE14, HALPE26, MPII16
from wholebody.schema.formats import FORMATS, KeypointFormat, detect_format, format_by_name, supported_formats

LAYOUTS: dict[str, KeypointLayout] = {
    layout.name: layout
    for layout in (COCO_WHOLEBODY, COCO17, HALPE136, DOPE_BODY13, DOPE_HAND21, DOPE_FACE84, MEDIAPIPE_POSE33, MEDIAPIPE_HAND21,
                   HALPE26, CROWDPOSE14, AIC14, MPII16)
}

__all__ = [name for name in dir() if name.isupper() or name in {
    "KeypointLayout", "convert", "from_wholebody", "to_wholebody", "link_color", "part_of",
    "facemesh_to_ibug68", "hand_to_wholebody", "KeypointFormat", "detect_format", "format_by_name", "supported_formats",
}]
