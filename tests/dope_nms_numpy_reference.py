"""DOPE pose NMS as it was before it moved to the device (commit b4b9799), kept as a reference.

Host numpy: every part's raw outputs copied to the host, then NMS over the kept proposals there.
``test_dope_post_device.py`` checks that the device version gives the same detections, and
``benchmarks/dope_post_speed.py --baseline`` times both on one output.
"""

from __future__ import annotations

import numpy as np
import torch

from wholebody.models.dope.post import NMS_IOU, PartDetection, _side, pose_boxes
from wholebody.nn.nms import nms


def pose_nms(part: str, boxes: np.ndarray, scores: np.ndarray, pose2d: np.ndarray, pose3d: np.ndarray,
             min_score: float = 0.3, iou: float = NMS_IOU, hand_classes_per_side: int | None = None) -> list[PartDetection]:
    boxes, scores, pose2d, pose3d = np.asarray(boxes, np.float64), np.asarray(scores, np.float64), *map(np.asarray, (pose2d, pose3d))
    if len(scores) == 0:
        return []
    classes = scores[:, 1:].argmax(axis=1)
    best = scores[np.arange(len(scores)), classes + 1]
    kept = np.flatnonzero(best >= min_score)
    if len(kept) == 0:
        return []
    poses2d, poses3d = pose2d[kept, classes[kept]].astype(np.float64), pose3d[kept, classes[kept]].astype(np.float64)
    order = nms(torch.as_tensor(pose_boxes(poses2d)), torch.as_tensor(best[kept]), iou).numpy()
    return [PartDetection(part, float(best[kept[i]]), poses2d[i], poses3d[i], boxes[kept[i]].copy(),
                          _side(part, int(classes[kept[i]]), hand_classes_per_side)) for i in order]


def detect_parts_nms(output: dict[str, torch.Tensor], parts: tuple[str, ...], hand_classes_per_side: int,
                     part_kwargs: dict[str, dict] | None = None) -> dict[str, list[PartDetection]]:
    """The old ``detect_parts(..., method="nms")``: all outputs to host numpy, then NMS per part."""
    result = {}
    for part in parts:
        kwargs = dict((part_kwargs or {}).get(part, {}))
        if part == "hand":
            kwargs.setdefault("hand_classes_per_side", hand_classes_per_side)
        arrays = [output[key].detach().float().cpu().numpy() for key in
                  ("boxes", f"{part}_scores", f"{part}_pose2d", f"{part}_pose3d")]
        result[part] = pose_nms(part, *arrays, **kwargs)
    return result
