"""mmpose's post-processing of top-down results before COCO-WholeBody evaluation.

mmpose (``CocoMetric`` defaults, used by every COCO-WholeBody config) does two things to the
raw predictions before it writes the results file:

* :func:`rescore` (``score_mode='bbox_keypoint'``): instance score = box score x the mean of
  the keypoint scores above 0.2 over all 133 points; 0 when no point passes.
* :func:`oks_nms` (``nms_mode='oks_nms'``, ``nms_thr=0.9``): per image, greedy NMS on OKS over
  all 133 points and sigmas, where a pair's area is the mean of the two results' areas (here
  the keypoint extent) and a result is dropped when its OKS with a kept one is > 0.9.

``wholebody eval --rescore --oks-nms`` applies both (in that order) to a results file that was
written without them.  Scores are unitless; keypoints are 2D pixels.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from wholebody.schema import JSON_SCORE_FIELDS, SIGMAS

log = logging.getLogger(__name__)

RESCORE_THRESHOLD = 0.2
NMS_THRESHOLD = 0.9


def rescore(keypoint_scores: np.ndarray, instance_scores: np.ndarray, threshold: float = RESCORE_THRESHOLD) -> np.ndarray:
    """(M,) instance score x mean of the keypoint scores > ``threshold`` (0 when none is).

    ``keypoint_scores`` (M, K), ``instance_scores`` (M,) (the box score; 1 with GT boxes).
    """
    keypoint_scores = np.asarray(keypoint_scores, dtype=np.float64)
    passing = keypoint_scores > threshold
    count = passing.sum(axis=1)
    total = np.where(passing, keypoint_scores, 0.0).sum(axis=1)
    mean = np.divide(total, count, out=np.zeros(len(total)), where=count > 0)
    return np.asarray(instance_scores, dtype=np.float64) * mean


def keypoint_extent_area(keypoints: np.ndarray) -> np.ndarray:
    """(M,) (max x - min x) * (max y - min y) over all points of each (M, K, 3) result (pixels^2)."""
    xy = np.asarray(keypoints, dtype=np.float64)[:, :, :2]
    if len(xy) == 0:
        return np.zeros(0)
    span = xy.max(axis=1) - xy.min(axis=1)
    return span[:, 0] * span[:, 1]


def _nms_one_group(keypoints: np.ndarray, scores: np.ndarray, areas: np.ndarray, variances: np.ndarray,
                   threshold: float) -> np.ndarray:
    """Kept positions within one image, best first (greedy, as mmpose's oks_nms)."""
    # mmpose ranks with scores.argsort()[::-1]: among equal scores the later result goes first.
    order = np.argsort(scores, kind="stable")[::-1]
    pts, area = keypoints[order], areas[order]
    alive = np.ones(len(order), bool)
    kept = []
    for i in range(len(order)):
        if not alive[i]:
            continue
        kept.append(order[i])
        rest = np.flatnonzero(alive[i + 1:]) + i + 1
        if len(rest) == 0:
            break
        d2 = (pts[rest, :, 0] - pts[i, :, 0]) ** 2 + (pts[rest, :, 1] - pts[i, :, 1]) ** 2
        e = d2 / variances / ((area[i] + area[rest]) / 2 + np.spacing(1))[:, None] / 2
        oks = (np.sum(np.exp(-e), axis=1) / e.shape[1]).astype(np.float32)  # mmpose keeps float32 OKS
        alive[rest[oks > threshold]] = False
    return np.asarray(kept, dtype=np.int64)


def oks_nms(keypoints: np.ndarray, scores: np.ndarray, groups: np.ndarray, threshold: float = NMS_THRESHOLD,
            sigmas: np.ndarray = SIGMAS, areas: np.ndarray | None = None) -> np.ndarray:
    """Indices (ascending) of the results that survive greedy OKS-NMS within each group.

    ``keypoints`` (M, K, 3) pixels, ``scores`` (M,) ranking scores, ``groups`` (M,) image ids
    (NMS never compares two groups), ``sigmas`` (K,); ``areas`` (M,) defaults to the keypoint
    extent.  A result is dropped when its OKS with a better kept one is > ``threshold``.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    groups = np.asarray(groups)
    areas = keypoint_extent_area(keypoints) if areas is None else np.asarray(areas, dtype=np.float64)
    variances = (np.asarray(sigmas, dtype=np.float64) * 2) ** 2
    by_group = np.argsort(groups, kind="stable")
    bounds = np.flatnonzero(np.diff(groups[by_group])) + 1
    kept = []
    for members in np.split(by_group, bounds) if len(by_group) else []:
        local = _nms_one_group(keypoints[members], scores[members], areas[members], variances, threshold)
        kept.append(members[local])
    return np.sort(np.concatenate(kept)) if kept else np.zeros(0, np.int64)


def rescore_results(res, threshold: float = RESCORE_THRESHOLD):
    """Results with ``score`` replaced by :func:`rescore` of it (box score = file ``score``).

    Every part ranked by ``score`` follows.  A part whose records all carry their own
    ``*_score`` field keeps it; a part where only some do keeps its values (with a warning),
    since which record fell back is not recorded.
    """
    new_score = rescore(res.keypoints[:, :, 2], res.scores["body"], threshold)
    scores = dict(res.scores)
    for part in res.scores:
        fallback = res.score_fallback.get(part, 0)
        if JSON_SCORE_FIELDS.get(part, "score") == "score" or fallback == len(res.image_ids):
            scores[part] = new_score
        elif fallback:
            log.warning("%s: %s is present on only some results; not rescoring that part", res.path, JSON_SCORE_FIELDS[part])
    return replace(res, scores=scores)


def oks_nms_results(res, threshold: float = NMS_THRESHOLD, sigmas: np.ndarray = SIGMAS):
    """Results after :func:`oks_nms` per (image, category), ranked by the instance ``score``;
    ``sigmas`` are the results' layout's (COCO-WholeBody's 133 by default)."""
    if len(res.image_ids) == 0:
        return res
    _, groups = np.unique(np.stack([res.image_ids, res.category_ids], axis=1), axis=0, return_inverse=True)
    groups = groups.reshape(-1)
    keep = oks_nms(res.keypoints, res.scores["body"], groups, threshold, sigmas=sigmas)
    log.info("%s: OKS-NMS kept %d of %d results", res.path, len(keep), len(res.image_ids))
    return replace(
        res, image_ids=res.image_ids[keep], category_ids=res.category_ids[keep], keypoints=res.keypoints[keep],
        scores={part: values[keep] for part, values in res.scores.items()},
        score_fallback={part: (len(keep) if n == len(res.image_ids) else n) for part, n in res.score_fallback.items()},
    )
