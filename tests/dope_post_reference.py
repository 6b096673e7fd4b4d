"""DOPE post-processing as it was before vectorising (commit af12cb7), kept as the test reference.

PPI's per-candidate greedy loops and pose NMS on the per-box NMS loop; only
``test_dope_post_vectorised.py`` uses it: the vectorised code must give the same detections.
"""

from __future__ import annotations

import numpy as np
import torch

from dope_step_reference import nms
from wholebody.models.dope.post import NMS_IOU, PartDetection, _side, _weighted_mode, pose_boxes
from wholebody.nn.nms import box_iou


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    return box_iou(torch.as_tensor(box[None], dtype=torch.float64), torch.as_tensor(boxes, dtype=torch.float64))[0].numpy()


def _overlaps(overlap: str, best: int, group: np.ndarray, boxes: np.ndarray, pose2d: np.ndarray,
              th_iou: float) -> np.ndarray:
    """Which candidates of ``group`` belong to ``best``'s instance (module docstring, step 2)."""
    if overlap == "bbox":
        return _iou(boxes[best], boxes[group]) > th_iou
    if overlap == "mje":
        side = float((boxes[best, 2:] - boxes[best, :2]).max())
        return np.linalg.norm(pose2d[group] - pose2d[best], axis=-1).mean(axis=-1) / (2 * side + 1) < th_iou
    raise ValueError(f"unknown PPI overlap {overlap!r}; choose 'bbox' or 'mje'")


def ppi(part: str, boxes: np.ndarray, scores: np.ndarray, pose2d: np.ndarray, pose3d: np.ndarray,
        score_th: float | None = None, th_iou: float = 0.2, th_pose3d: float = 0.3, min_mode_score: float = 0.05,
        th_detect: float = 0.002, hand_classes_per_side: int | None = None, upper_body_from: int | None = None,
        lower_body_joints: tuple[int, ...] = (), overlap: str = "bbox") -> list[PartDetection]:
    """Pose-proposal integration for one part of one image (module docstring).

    Args:
        boxes: (N, 4) proposals, original pixels; scores: (N, K + 1) softmax, column 0 background.
        pose2d: (N, K, J, 2) original pixels; pose3d: (N, K, J, 3) metres.
    """
    boxes, scores, pose2d, pose3d = (np.asarray(a, dtype=np.float64) for a in (boxes, scores, pose2d, pose3d))
    num_classes = scores.shape[1] - 1
    threshold = 0.1 / num_classes if score_th is None else score_th
    rows, classes = np.nonzero(scores[:, 1:] >= threshold)
    if len(rows) == 0:
        return []
    cand_score = scores[rows, classes + 1]
    cand_box, cand_2d, cand_3d = boxes[rows], pose2d[rows, classes], pose3d[rows, classes]
    remaining = np.ones(len(rows), bool)
    detections = []
    while remaining.any():
        best = int(np.flatnonzero(remaining)[np.argmax(cand_score[remaining])])
        group = np.flatnonzero(remaining)
        group = group[_overlaps(overlap, best, group, cand_box, cand_2d, th_iou)]
        group = np.union1d(group, [best])
        remaining[group] = False
        unassigned = np.ones(len(group), bool)
        best_mode = None
        while unassigned.any():
            top = int(np.flatnonzero(unassigned)[np.argmax(cand_score[group][unassigned])])
            if cand_score[group[top]] < min_mode_score and best_mode is not None:
                break
            distance = np.linalg.norm(cand_3d[group] - cand_3d[group[top]], axis=-1).mean(axis=-1)
            members = distance < th_pose3d
            members[top] = True
            unassigned &= ~members
            total = float(cand_score[group][members].sum())
            if best_mode is None or total > best_mode[0]:
                best_mode = (total, group[top], group[members])
        total, top_index, members = best_mode
        if total > th_detect:
            mean2d, mean3d = _weighted_mode(cand_score[members], classes[members], cand_2d[members], cand_3d[members],
                                            upper_body_from, lower_body_joints)
            detections.append(PartDetection(part, total, mean2d, mean3d, cand_box[top_index].copy(),
                                            _side(part, int(classes[top_index]), hand_classes_per_side)))
    return sorted(detections, key=lambda d: -d.score)


def pose_nms(part: str, boxes: np.ndarray, scores: np.ndarray, pose2d: np.ndarray, pose3d: np.ndarray,
             min_score: float = 0.3, iou: float = NMS_IOU, hand_classes_per_side: int | None = None) -> list[PartDetection]:
    """DOPE's NMS alternative for one part of one image (module docstring); same inputs as :func:`ppi`."""
    boxes, scores, pose2d, pose3d = (np.asarray(a, dtype=np.float64) for a in (boxes, scores, pose2d, pose3d))
    if len(scores) == 0:
        return []
    classes = scores[:, 1:].argmax(axis=1)
    best = scores[np.arange(len(scores)), classes + 1]
    kept = np.flatnonzero(best >= min_score)
    if len(kept) == 0:
        return []
    poses2d, poses3d = pose2d[kept, classes[kept]], pose3d[kept, classes[kept]]
    order = nms(torch.as_tensor(pose_boxes(poses2d)), torch.as_tensor(best[kept]), iou).numpy()
    return [PartDetection(part, float(best[kept[i]]), poses2d[i], poses3d[i], boxes[kept[i]].copy(),
                          _side(part, int(classes[kept[i]]), hand_classes_per_side)) for i in order]
