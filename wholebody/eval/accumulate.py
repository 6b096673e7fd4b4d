"""Precision/recall accumulation and the 10 summary stats, as xtcocotools' COCOeval.

Same float operations in the same order as ``accumulate()`` / ``summarize()`` of xtcocotools
1.14.3, so the stats agree to the last bit or nearly: results of a category are ranked by a
stable sort of -score over the images in id order; precision is made monotone from the right
and read at the 101 recall thresholds with ``searchsorted(side='left')`` (0 past the last
result); a summary is the mean of the entries > -1, or -1 when there are none.
"""

from __future__ import annotations

import numpy as np

# COCO keypoint parameters (xtcocotools Params.setKpParams).
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
MAX_DETS = 20
AREA_RANGES = np.array([[0**2, 1e5**2], [32**2, 96**2], [96**2, 1e5**2]], dtype=np.float64)
AREA_LABELS = ("all", "medium", "large")
STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


def rank_results(scores: np.ndarray) -> np.ndarray:
    """Order of a category's results for accumulation: stable sort of -score.

    ``scores`` (D,) must be in image-id order, then rank order within each image.
    """
    return np.argsort(-scores, kind="mergesort")


def accumulate_category(order, dt_matched, dt_ignored, n_regular_gt, precision_out, recall_out) -> None:
    """Fill precision (T, R) and recall (T,) of one category and area range.

    ``order`` from :func:`rank_results`; ``dt_matched`` and ``dt_ignored`` (T, D) booleans in
    the same order as the scores given to it; ``n_regular_gt`` = people not ignored (> 0).
    """
    matched = dt_matched[:, order]
    ignored = dt_ignored[:, order]
    tp_sum = np.cumsum(matched & ~ignored, axis=1).astype(dtype=np.float64)
    fp_sum = np.cumsum(~matched & ~ignored, axis=1).astype(dtype=np.float64)
    n_dt = tp_sum.shape[1]
    recall_curve = tp_sum / n_regular_gt
    precision_curve = tp_sum / (fp_sum + tp_sum + np.spacing(1))
    recall_out[:] = recall_curve[:, -1] if n_dt else 0
    if n_dt == 0:
        precision_out[:] = 0.0
        return
    # Precision envelope: each point takes the best precision at any higher recall.
    envelope = np.maximum.accumulate(precision_curve[:, ::-1], axis=1)[:, ::-1]
    for t in range(tp_sum.shape[0]):
        at = np.searchsorted(recall_curve[t], RECALL_THRESHOLDS, side="left")
        reached = at < n_dt
        row = np.zeros(len(RECALL_THRESHOLDS))
        row[reached] = envelope[t, at[reached]]
        precision_out[t] = row


def summarize(precision: np.ndarray, recall: np.ndarray) -> dict[str, float]:
    """The 10 keypoint stats from precision (T, R, K, A, 1) and recall (T, K, A, 1)."""

    def one(ap: bool, iou_thr=None, area="all") -> float:
        a = AREA_LABELS.index(area)
        s = precision if ap else recall
        if iou_thr is not None:
            s = s[np.where(iou_thr == IOU_THRESHOLDS)[0]]
        s = s[:, :, :, [a], [0]] if ap else s[:, :, [a], [0]]
        kept = s[s > -1]
        return -1.0 if len(kept) == 0 else float(np.mean(kept))

    values = (
        one(True), one(True, 0.5), one(True, 0.75), one(True, area="medium"), one(True, area="large"),
        one(False), one(False, 0.5), one(False, 0.75), one(False, area="medium"), one(False, area="large"),
    )
    return dict(zip(STAT_NAMES, values))
