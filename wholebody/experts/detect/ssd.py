"""SSD anchor decoding shared by MediaPipe's BlazePose person detector and BlazeFace face detector.

Both models use MediaPipe's SSD anchor settings: 2 anchors per cell per feature layer,
layers of equal stride merged into one grid (their anchors interleaved per cell), fixed
anchor size, centres at (i + 0.5) / grid, in [0, 1] input units.
"""

from __future__ import annotations

import numpy as np


def ssd_anchors(input_size: int, strides: tuple[int, ...], per_cell: int = 2) -> np.ndarray:
    """(N, 2) anchor centres in [0, 1] input units, in the model's output order."""
    centres = []
    i = 0
    while i < len(strides):
        stride, repeats = strides[i], 0
        while i < len(strides) and strides[i] == stride:
            repeats, i = repeats + 1, i + 1
        grid = int(np.ceil(input_size / stride))
        ys, xs = np.meshgrid((np.arange(grid) + 0.5) / grid, (np.arange(grid) + 0.5) / grid, indexing="ij")
        cells = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cells, per_cell * repeats, axis=0))
    return np.concatenate(centres)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one ``[x1, y1, x2, y2]`` box with (N, 4) boxes."""
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return inter / np.maximum(area + areas - inter, 1e-12)


def weighted_nms(corners: np.ndarray, scores: np.ndarray, extra: np.ndarray, iou_threshold: float) -> list[tuple]:
    """MediaPipe's weighted NMS: each cluster (IoU > threshold with its best box) is score-averaged.

    Returns (score, box corners, extra) per cluster; the score is the best member's.
    """
    order = np.argsort(-scores)
    corners, scores, extra = corners[order], scores[order], extra[order]
    remaining = np.ones(len(scores), dtype=bool)
    kept = []
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        members = remaining & (_iou(corners[i], corners) > iou_threshold)
        members[i] = True
        w = scores[members][:, None]
        kept.append((float(scores[i]), (corners[members] * w).sum(0) / w.sum(), (extra[members] * w[:, :, None]).sum(0) / w.sum()))
        remaining &= ~members
    return kept


def decode_ssd(raw: np.ndarray, logits: np.ndarray, anchors: np.ndarray, input_size: int,
               score_threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode rows ``(dx, dy, w, h, kx0, ky0, ...)`` (input pixels) above a score threshold.

    Returns (scores (M,), box corners (M, 4) ``x1, y1, x2, y2`` and keypoints (M, K, 2)), all
    in [0, 1] input units.  Scores are sigmoid(logit) with the logit clipped to +-100.
    """
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.reshape(-1).astype(np.float64), -100.0, 100.0)))
    keep = scores >= score_threshold
    raw = raw.reshape(len(scores), -1)
    rows, anchors = raw[keep] / input_size, anchors[keep]
    centre = rows[:, :2] + anchors
    half = rows[:, 2:4] / 2.0
    corners = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = rows[:, 4:].reshape(len(rows), (raw.shape[1] - 4) // 2, 2) + anchors[:, None, :]
    return scores[keep], corners, keypoints
