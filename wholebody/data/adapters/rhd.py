"""Rendered Hand Pose (RHD) adapter: mmpose's ``test_rhd.json`` -> hand samples with 2D + 3D.

Each annotation has ``keypoints`` as a *nested* list of 21 ``[x, y, v]`` triplets (pixels),
``joint_cam`` (21 x 3, camera coordinates in millimetres, converted here to metres),
``hand_type`` ``"left"`` / ``"right"`` and ``bbox`` (xywh).  Images have ``cam_param`` =
``{focal, princpt}``; projecting ``joint_cam`` with it reproduces ``keypoints``.

Joint order: RHD's own, wrist then each finger (thumb, index, middle, ring, pinky) from the
*tip* to the base (mmpose's ``Rhd2DDataset`` lists 1 = thumb4 ... 4 = thumb1).  The category
names inside the JSON say thumb1..thumb4 (base to tip), but the 3D data disagree: the distance
from the wrist shrinks from joint 1 to joint 4 on every finger.  ``RHD21`` maps each joint to
its COCO-WholeBody hand point accordingly.
"""

from __future__ import annotations

import os

import numpy as np

from wholebody.data.adapters.sample import Sample, index_images, make_instance, read_json_object, samples_per_image, xywh_to_xyxy
from wholebody.data.errors import AnnotationError
from wholebody.models.dope.layout import WB_HAND21, DopeLayout, get_layout
from wholebody.schema import KeypointLayout

MM_PER_M = 1000.0
# RHD joint 1 + 4 f + k (k = 0 tip .. 3 base) is COCO-WholeBody hand point 1 + 4 f + (3 - k).
_rhd_to_coco_hand = [0] + [1 + 4 * f + (3 - k) for f in range(5) for k in range(4)]
RHD21 = KeypointLayout(
    name="rhd21",
    keypoints=tuple(WB_HAND21.keypoints[i] for i in _rhd_to_coco_hand),
    parts={"hand": slice(0, 21)},
    flip_pairs=(),
    skeleton=tuple((0 if k == 0 else 1 + 4 * f + 4 - k, 1 + 4 * f + 3 - k) for f in range(5) for k in range(4)),
    to_wholebody=[int(WB_HAND21.to_wholebody[i]) for i in _rhd_to_coco_hand],
)


def _hand_arrays(file: str, ann: dict) -> tuple[np.ndarray, np.ndarray, bool]:
    record = ann.get("id")
    try:
        keypoints = np.asarray(ann["keypoints"], float)
        joints = np.asarray(ann["joint_cam"], float)
    except (KeyError, ValueError, TypeError) as err:
        raise AnnotationError(file, record, "keypoints/joint_cam", f"expected 21 x 3 numbers each ({err})") from None
    if keypoints.shape != (21, 3):
        raise AnnotationError(file, record, "keypoints", f"expected 21 nested [x, y, v] triplets, got shape {keypoints.shape}")
    if joints.shape != (21, 3):
        raise AnnotationError(file, record, "joint_cam", f"expected 21 x 3, got shape {joints.shape}")
    if not (np.isfinite(keypoints).all() and np.isfinite(joints).all()):
        raise AnnotationError(file, record, "keypoints/joint_cam", "NaN or inf")
    side = ann.get("hand_type")
    if side not in ("left", "right"):
        raise AnnotationError(file, record, "hand_type", f"expected 'left' or 'right', got {side!r}")
    return keypoints, joints / MM_PER_M, side == "right"


def load_rhd(path: str | os.PathLike, layout: str | DopeLayout = "wholebody", errors: list[str] | None = None) -> list[Sample]:
    """RHD JSON -> one sample per image with its hands (2D + 3D).

    A malformed annotation raises :class:`AnnotationError`, or, when ``errors`` is a list, is
    logged, appended to it and skipped together with its image (``sample.samples_per_image``).
    """
    layout = get_layout(layout)

    def hand(file: str, ann: dict, images: dict):
        keypoints, joints, is_right = _hand_arrays(file, ann)
        if ann.get("image_id") not in images:
            raise AnnotationError(file, ann.get("id"), "image_id", "image id is not in 'images'")
        visible = keypoints[:, 2] > 0
        box = xywh_to_xyxy(ann["bbox"]) if "bbox" in ann else None
        return make_instance("hand", layout.parts["hand"], layout, keypoints[:, :2], visible, RHD21, joints, visible,
                             fallback_box=box, is_right=is_right)

    return samples_per_image(path, "rhd", "hand", hand, errors)


def camera_intrinsics(path: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """image file name -> (focal (2,), principal point (2,)) from the images' ``cam_param``."""
    data = read_json_object(path)
    out = {}
    for image in index_images(str(path), data).values():
        cam = image.get("cam_param")
        if not isinstance(cam, dict) or "focal" not in cam or "princpt" not in cam:
            raise AnnotationError(str(path), image["id"], "cam_param", "missing focal/princpt")
        out[image["file_name"]] = (np.asarray(cam["focal"], float), np.asarray(cam["princpt"], float))
    return out
