"""300W adapter: mmpose's ``test_300w.json`` -> face samples with 68 iBUG landmarks (2D only).

Annotations carry ``keypoints`` (68 x 3 flat), ``bbox`` (xywh), ``center`` and ``scale``; the
landmark order is iBUG-68, COCO-WholeBody's face order.  For the paper's 84-point face the 17
iBUG jaw points fill every other jaw point and the other 16 are masked out.
"""

from __future__ import annotations

import os

import numpy as np

from wholebody.data.adapters.sample import Sample, make_instance, samples_per_image, xywh_to_xyxy
from wholebody.data.errors import AnnotationError
from wholebody.models.dope.layout import WB_FACE68, DopeLayout, get_layout


def _face_keypoints(file: str, ann: dict, images: dict) -> np.ndarray:
    """(68, 3) keypoints of one annotation, checked."""
    record = ann.get("id")
    try:
        keypoints = np.asarray(ann["keypoints"], float).reshape(68, 3)
    except (KeyError, ValueError, TypeError) as err:
        raise AnnotationError(file, record, "keypoints", f"expected 68 x 3 numbers ({err})") from None
    if not np.isfinite(keypoints).all():
        raise AnnotationError(file, record, "keypoints", "NaN or inf")
    if ann.get("image_id") not in images:
        raise AnnotationError(file, record, "image_id", "image id is not in 'images'")
    return keypoints


def load_300w(path: str | os.PathLike, layout: str | DopeLayout = "wholebody", errors: list[str] | None = None) -> list[Sample]:
    """300W JSON -> one sample per image with its faces (``errors``: see ``sample.samples_per_image``)."""
    layout = get_layout(layout)

    def face(file: str, ann: dict, images: dict):
        keypoints = _face_keypoints(file, ann, images)
        box = xywh_to_xyxy(ann["bbox"]) if "bbox" in ann else None
        return make_instance("face", layout.parts["face"], layout, keypoints[:, :2], keypoints[:, 2] > 0, WB_FACE68,
                             fallback_box=box)

    return samples_per_image(path, "300w", "face", face, errors)
