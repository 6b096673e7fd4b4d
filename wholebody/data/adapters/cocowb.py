"""COCO-WholeBody adapter: ground truth (``wholebody.data.cocowb``) -> per-image DOPE samples.

Per person: a body (COCO-17 + 6 feet, only if any point is labelled), a face and each hand when
its ``*_valid`` flag is set; all 2D only.  Crowd annotations are skipped.  The parts are
labelled on every person of the image, so all three count as labelled (Eq. 1).  Images live
next to the JSON unless ``image_root`` says otherwise.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from wholebody.data.adapters.sample import Sample, make_instance, read_json_object, xywh_to_xyxy
from wholebody.data.cocowb import load_ground_truth
from wholebody.data.errors import AnnotationError
from wholebody.models.dope.layout import WB_BODY23, WB_FACE68, WB_HAND21, DopeLayout, get_layout
from wholebody.schema import PART_SLICES

LABELLED = frozenset({"body", "hand", "face"})


def load_cocowb(path: str | os.PathLike, layout: str | DopeLayout = "wholebody",
                image_root: str | os.PathLike | None = None, errors: list[str] | None = None) -> list[Sample]:
    """COCO-WholeBody JSON -> one sample per image (every image, also those without people).

    A malformed annotation raises :class:`AnnotationError`; with ``errors`` given, bad records
    are logged, listed there and left out (their whole image too, so no person goes silently
    unlabelled).
    """
    layout = get_layout(layout)
    bad_images: set[int] = set()
    try:
        gt = load_ground_truth(path)
    except AnnotationError as err:
        if errors is None or err.record is None:
            raise
        gt, bad_images = _good_records(path, errors)
    root = Path(image_root) if image_root is not None else Path(path).parent
    instances = defaultdict(list)
    for i in range(len(gt)):
        if gt.iscrowd[i]:
            continue
        image_id = int(gt.image_ids[i])
        points = gt.keypoints[i]
        visible = points[:, 2] > 0
        body = slice(0, PART_SLICES["foot"].stop)
        if visible[body].any():
            instances[image_id].append(make_instance("body", layout.parts["body"], layout, points[body, :2], visible[body],
                                                     WB_BODY23, fallback_box=xywh_to_xyxy(gt.bbox[i]), person=i))
        if gt.part_valid["face"][i] and visible[PART_SLICES["face"]].any():
            face = PART_SLICES["face"]
            instances[image_id].append(make_instance("face", layout.parts["face"], layout, points[face, :2], visible[face],
                                                     WB_FACE68, fallback_box=_box(gt.part_boxes["face"][i]), person=i))
        for side, is_right in (("lefthand", False), ("righthand", True)):
            hand = PART_SLICES[side]
            if gt.part_valid[side][i] and visible[hand].any():
                instances[image_id].append(make_instance("hand", layout.parts["hand"], layout, points[hand, :2], visible[hand],
                                                         WB_HAND21, fallback_box=_box(gt.part_boxes[side][i]),
                                                         is_right=is_right, person=i))
    return [Sample("coco_wholebody", str(image_id), root / image["file_name"],
                   (int(image["height"]), int(image["width"])) if "height" in image else None,
                   instances.get(image_id, []), LABELLED)
            for image_id, image in gt.images.items() if image_id not in bad_images]


def _good_records(path, errors: list[str]):
    """The ground truth of the valid records and the image ids of the bad ones."""
    from wholebody.train.zoomnet.dataset import load_training_set

    data = read_json_object(path)
    checked = load_training_set(path, ".")
    errors.extend(checked.skipped)
    kept = set(checked.gt.ann_ids.tolist())
    bad = {ann.get("image_id") for ann in data.get("annotations", []) if isinstance(ann, dict) and ann.get("id") not in kept}
    return checked.gt, bad


def _box(xywh: np.ndarray) -> np.ndarray | None:
    return xywh_to_xyxy(xywh) if xywh[2] > 0 and xywh[3] > 0 else None
