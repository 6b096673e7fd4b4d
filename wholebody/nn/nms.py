"""Greedy non-maximum suppression in plain torch (torchvision ``nms`` / ``batched_nms`` semantics).

Boxes are ``(x1, y1, x2, y2)``; area is ``(x2 - x1) * (y2 - y1)`` (no +1 pixel).  A box is
suppressed when its IoU with a kept, higher-scoring box is strictly greater than the threshold.
Ties in score keep the earlier box first (stable sort).

The greedy pass is computed without a loop over boxes: with the boxes in score order and
``S[j, i]`` = "box j would suppress box i" (j < i), greedy NMS keeps box i iff no *kept* j
suppresses it.  That recurrence has exactly one solution, and the parallel update
``keep_i <- not any_j (keep_j and S[j, i])`` started from "keep everything" reaches it after
(longest suppression chain + 1) updates; each update is one masked matrix-vector product for
every image of a batch at once.  Convergence is checked after 1, 2, 4, 8, ... updates, so a
batch costs O(log chain length) host synchronisations instead of one per box.
"""

from __future__ import annotations

import torch


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) x1y1x2y2 -> (...) areas (0 for degenerate boxes)."""
    return (boxes[..., 2] - boxes[..., 0]).clamp(min=0) * (boxes[..., 3] - boxes[..., 1]).clamp(min=0)


def box_iou(boxes_a: torch.Tensor, boxes_b: torch.Tensor) -> torch.Tensor:
    """(..., A, 4) x (..., B, 4) -> (..., A, B) intersection over union; 0 where the union is empty.

    Leading dimensions broadcast, so a batch of images gives one (N, A, B) matrix per call.
    """
    ax1, ay1, ax2, ay2 = (c[..., :, None] for c in boxes_a.unbind(-1))
    bx1, by1, bx2, by2 = (c[..., None, :] for c in boxes_b.unbind(-1))
    # one (A, B) pass per coordinate: no (A, B, 2) temporaries
    inter = (torch.minimum(ax2, bx2) - torch.maximum(ax1, bx1)).clamp(min=0) * (
        torch.minimum(ay2, by2) - torch.maximum(ay1, by1)).clamp(min=0)
    union = box_area(boxes_a)[..., :, None] + box_area(boxes_b)[..., None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=torch.finfo(inter.dtype).tiny), 0.0)


def suppression_keep(suppresses: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Greedy NMS outcome from a suppression matrix (module docstring).

    Args:
        suppresses: (N, K, K) bool, ``[n, j, i]`` true when box j (earlier = higher score) would
            suppress box i; only j < i is read.
        valid: (N, K) bool, the boxes taking part (invalid ones neither kept nor suppressing).
    Returns:
        (N, K) bool, the kept boxes.
    """
    weights = (torch.triu(suppresses, diagonal=1) & valid[:, :, None]).to(torch.float32)
    keep = valid
    updates = 1
    while True:
        for _ in range(updates):
            previous = keep
            # counts[n, i] = number of currently kept boxes that suppress box i (exact in float32)
            counts = torch.bmm(keep.to(torch.float32)[:, None, :], weights)[:, 0]
            keep = valid & (counts == 0)
        if torch.equal(keep, previous):  # one host synchronisation per doubling
            return keep
        updates *= 2


def nms_sorted_mask(boxes: torch.Tensor, valid: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy NMS of a batch of boxes already in decreasing score order.

    Args:
        boxes: (N, K, 4) x1y1x2y2, each row sorted by decreasing score (stable).
        valid: (N, K) bool, the boxes taking part (padding and filtered boxes false).
    Returns:
        (N, K) bool, the kept boxes (their order is the input order).
    """
    if boxes.shape[1] == 0:
        return valid.clone()
    return suppression_keep(box_iou(boxes, boxes) > iou_threshold, valid)


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
    keep = nms_sorted_mask(boxes[order][None], torch.ones((1, len(order)), dtype=torch.bool, device=boxes.device),
                           iou_threshold)[0]
    return order[keep]


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
