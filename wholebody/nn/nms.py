"""Greedy non-maximum suppression in plain torch (torchvision ``nms`` / ``batched_nms`` semantics).

Boxes are ``(x1, y1, x2, y2)``; area is ``(x2 - x1) * (y2 - y1)`` (no +1 pixel).  A box is
suppressed when its IoU with a kept, higher-scoring box is strictly greater than the threshold.
Ties in score keep the earlier box first (stable sort).
"""

from __future__ import annotations

import torch


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """(K, 4) x1y1x2y2 -> (K,) areas (0 for degenerate boxes)."""
    return (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)


def box_iou(boxes_a: torch.Tensor, boxes_b: torch.Tensor) -> torch.Tensor:
    """(A, 4) x (B, 4) -> (A, B) intersection over union; 0 where the union is empty."""
    top_left = torch.maximum(boxes_a[:, None, :2], boxes_b[None, :, :2])
    bottom_right = torch.minimum(boxes_a[:, None, 2:], boxes_b[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=-1)
    union = box_area(boxes_a)[:, None] + box_area(boxes_b)[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=torch.finfo(inter.dtype).tiny), torch.zeros_like(inter))


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Indices of the boxes kept by greedy NMS, in decreasing score order.

    Args:
        boxes: (K, 4) x1y1x2y2.
        scores: (K,).
        iou_threshold: suppress boxes whose IoU with a kept box is > this value.
    Returns:
        int64 tensor (M,) of indices into ``boxes``.
    """
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.int64, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    iou = box_iou(boxes[order], boxes[order])
    # Row i of ``overlaps`` marks the later (lower-scoring) boxes that box i would suppress.
    overlaps = torch.triu(iou > iou_threshold, diagonal=1).cpu()
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= overlaps[i]
    return order[torch.tensor(keep, dtype=torch.int64, device=order.device)]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """NMS within each class independently; kept indices in decreasing score order.

    Boxes of different classes are moved apart by an offset larger than any coordinate span, so
    they never overlap and one NMS pass handles all classes.
    """
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.int64, device=boxes.device)
    span = boxes.max() - boxes.min() + 1
    shifted = boxes - boxes.min() + (classes.to(boxes.dtype) * span)[:, None]
    return nms(shifted, scores, iou_threshold)
