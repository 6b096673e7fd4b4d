"""COCO-WholeBody keypoint AP/AR per part, identical to xtcocotools 1.14.3 and much faster.

mmpose evaluates COCO-WholeBody with six xtcocotools ``COCOeval`` runs (body, foot, face, left
hand, right hand, whole body), each with its slice of the 133 sigmas, ``use_area=True``,
maxDets 20 and the area ranges all / medium / large.  :func:`evaluate` gives the same numbers
from arrays that were parsed once (:mod:`wholebody.data.cocowb`): for each part it ranks the
results of every (category, image) by the part's score, drops results whose scores in the part
are all 0, computes the OKS of each result with each person (:mod:`.oks`), matches greedily
(:mod:`.matching`) and accumulates precision and recall (:mod:`.accumulate`).

Behaviour the reference has and this keeps: a person is ignored in a part when it is a crowd
or labels no point of that part; a result's area (for the medium/large split of unmatched
results) is the extent of its 17 body points; ties keep file order.  One difference: a person
without ``area`` makes xtcocotools fail in the OKS; here its box w * h * 0.53 is used, which is
what xtcocotools uses for the area ranges.

Other layouts (COCO-17, CrowdPose, AI Challenger, MPII, Halpe; :mod:`wholebody.schema.formats`)
go through the same code with the format's sigmas and parts, as one xtcocotools
``COCOeval(..., 'keypoints', sigmas, use_area)`` run per part; CrowdPose adds the AP per
crowd-index class of ``keypoints_crowd`` (see :mod:`.crowd`).  Points the results' layout lacks
(``Results.scored_points``) are left out of the OKS.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from wholebody.eval.accumulate import (
    AREA_RANGES, IOU_THRESHOLDS, MAX_DETS, RECALL_THRESHOLDS, STAT_NAMES, accumulate_category, rank_results,
    summarize,
)
from wholebody.eval.crowd import CROWD_STAT_NAMES
from wholebody.eval.matching import enumerate_pairs, match_groups
from wholebody.eval.oks import compute_oks, oks_for_pairs
from wholebody.schema import PART_SLICES
from wholebody.schema.formats import COCO_WHOLEBODY_FORMAT, KeypointFormat

__all__ = ["Evaluation", "compute_oks", "evaluate", "evaluate_files", "format_table", "STAT_NAMES"]

log = logging.getLogger(__name__)

PART_POINTS: dict[str, slice] = dict(PART_SLICES) | {"wholebody": slice(0, 133)}
PART_TITLES = {"body": "body", "foot": "foot", "face": "face", "lefthand": "left hand",
               "righthand": "right hand", "wholebody": "whole-body", "hand": "hands"}


@dataclass
class Evaluation:
    """Per part: ``stats`` (the 10 COCO keypoint stats), ``precision`` (10 OKS thresholds, 101
    recall points, 3 area ranges all/medium/large; -1 where undefined) and ``recall`` (10, 3),
    both for maxDets 20 and the first category, as COCOeval.eval[...][..., 0, :, 0]."""

    stats: dict[str, dict[str, float]] = field(default_factory=dict)
    precision: dict[str, np.ndarray] = field(default_factory=dict)
    recall: dict[str, np.ndarray] = field(default_factory=dict)
    title: str = "COCO-WholeBody 133"  # the ground truth's layout

    def table(self, full: bool = False) -> str:
        return format_table(self.stats, full=full)


@dataclass
class _Shared:
    """Everything that does not depend on the part, computed once per evaluation."""

    n_images: int
    n_categories: int
    gt_order: np.ndarray       # GT indices sorted by (category, image), file order within
    gt_keys: np.ndarray        # group key of each sorted GT
    gt_range_area: np.ndarray  # area for the medium/large split, sorted order
    gt_oks_area: np.ndarray    # area for the OKS, original order
    gt_crowd: np.ndarray       # sorted order
    gt_id_nonneg: np.ndarray   # sorted order (COCOeval tests matches as gt id >= 0)
    gt_labelled: np.ndarray    # (N, 133) visibility > 0, original order
    dt_keys: np.ndarray        # group key per result (original order), -1 when not evaluated
    dt_area: np.ndarray        # body-keypoint extent per result (original order)
    dt_scored: np.ndarray      # (M, K) keypoint score > 0, original order
    fmt: KeypointFormat = COCO_WHOLEBODY_FORMAT
    scored_points: np.ndarray | None = None  # (K,) bool, None = all


def _category_ids(gt) -> np.ndarray:
    """Sorted ids of the categories COCOeval loops over: the file's category list."""
    categories = getattr(gt, "categories", None)
    if categories:
        ids = categories.keys() if isinstance(categories, dict) else [c["id"] for c in categories]
        return np.unique(np.fromiter(ids, dtype=np.int64))
    return np.unique(np.asarray(gt.category_ids, dtype=np.int64))


def _result_area(res) -> np.ndarray:
    """xtcocotools loadRes area: (max - min x) * (max - min y) of the 17 body points."""
    area = getattr(res, "area", None)
    if area is not None:
        return np.asarray(area, dtype=np.float64)
    body = res.keypoints[:, PART_SLICES["body"], :2]
    if len(body) == 0:
        return np.zeros(0)
    lo, hi = body.min(axis=1), body.max(axis=1)
    return (hi[:, 0] - lo[:, 0]) * (hi[:, 1] - lo[:, 1])


def _group_keys(image_ids, category_ids, images, categories) -> np.ndarray:
    """category rank * n_images + image rank, or -1 when the image or category is not evaluated."""
    img_rank = np.searchsorted(images, image_ids)
    cat_rank = np.searchsorted(categories, category_ids)
    ok = (img_rank < len(images)) & (cat_rank < len(categories))
    ok[ok] &= (images[img_rank[ok]] == image_ids[ok]) & (categories[cat_rank[ok]] == category_ids[ok])
    return np.where(ok, cat_rank * len(images) + img_rank, -1).astype(np.int64)


def _prepare(gt, res, images: np.ndarray | None = None) -> _Shared:
    """Shared arrays; ``images`` restricts the evaluated images (sorted ids; default all)."""
    fmt = getattr(gt, "format", COCO_WHOLEBODY_FORMAT)
    if images is None:
        images = np.unique(np.fromiter(gt.images.keys(), dtype=np.int64, count=len(gt.images)))
    categories = _category_ids(gt)
    gt_keys = _group_keys(np.asarray(gt.image_ids), np.asarray(gt.category_ids), images, categories)
    evaluated = np.flatnonzero(gt_keys >= 0)
    gt_order = evaluated[np.argsort(gt_keys[evaluated], kind="stable")]
    box_area = gt.bbox[:, 2] * gt.bbox[:, 3] * 0.53
    area = np.asarray(gt.area, dtype=np.float64) if fmt.use_area else np.full(len(box_area), np.nan)
    oks_area = np.where(np.isnan(area), box_area, area)
    if fmt.use_area and np.isnan(area[gt_order]).any():
        log.warning("%s: some people have no 'area'; using box w*h*0.53 for them", getattr(gt, "path", "ground truth"))
    dt_keys = _group_keys(np.asarray(res.image_ids), np.asarray(res.category_ids), images, categories)
    return _Shared(
        n_images=len(images), n_categories=len(categories), gt_order=gt_order, gt_keys=gt_keys[gt_order],
        gt_range_area=oks_area[gt_order], gt_oks_area=oks_area, gt_crowd=np.asarray(gt.iscrowd, bool)[gt_order],
        gt_id_nonneg=(np.asarray(gt.ann_ids) >= 0)[gt_order], gt_labelled=gt.keypoints[:, :, 2] > 0,
        dt_keys=dt_keys, dt_area=_result_area(res), dt_scored=res.keypoints[:, :, 2] > 0,
        fmt=fmt, scored_points=getattr(res, "scored_points", None),
    )


def part_points(shared: _Shared, part: str):
    """The points a part scores: its slice, or an index array when the results lack some."""
    points = shared.fmt.eval_parts[part]
    if shared.scored_points is None or shared.scored_points[points].all():
        return points
    return np.arange(points.start, points.stop)[shared.scored_points[points]]


def _ranked_results(shared: _Shared, scores: np.ndarray, points: slice) -> np.ndarray:
    """Indices of the results a part evaluates: by group, best score first (stable), <= maxDets each.

    A result whose keypoint scores in the part are all 0 is not evaluated for that part."""
    has_score = shared.dt_scored[:, points].any(axis=1)
    candidates = np.flatnonzero((shared.dt_keys >= 0) & has_score)
    order = candidates[np.lexsort((-scores[candidates], shared.dt_keys[candidates]))]
    keys = shared.dt_keys[order]
    rank = np.arange(len(keys)) - np.searchsorted(keys, keys, side="left")
    return order[rank < MAX_DETS]


def _evaluate_part(shared: _Shared, gt, res, part: str):
    points = part_points(shared, part)
    sigmas = shared.fmt.sigmas[points]
    gt_kpts, dt_kpts = gt.keypoints, res.keypoints
    if not isinstance(points, slice):  # some points unscored: gather the others into contiguous arrays
        gt_kpts, dt_kpts = gt_kpts[:, points], dt_kpts[:, points]
    n_labelled = np.count_nonzero(shared.gt_labelled[:, points], axis=1).astype(np.int64)
    scores = np.asarray(res.scores[part], dtype=np.float64)
    dt_index = _ranked_results(shared, scores, points)
    dt_keys = shared.dt_keys[dt_index]
    groups = np.union1d(shared.gt_keys, dt_keys)
    dt_start = np.searchsorted(dt_keys, groups, "left")
    dt_count = np.searchsorted(dt_keys, groups, "right") - dt_start
    gt_start = np.searchsorted(shared.gt_keys, groups, "left")
    gt_count = np.searchsorted(shared.gt_keys, groups, "right") - gt_start
    pair_dt, pair_gt, oks_start = enumerate_pairs(dt_start, dt_count, gt_start, gt_count, dt_index, shared.gt_order)
    oks_points = points if isinstance(points, slice) else slice(0, len(points))
    oks = oks_for_pairs(dt_kpts, gt_kpts, shared.gt_oks_area, gt.bbox, sigmas, oks_points,
                        pair_dt, pair_gt, n_labelled)
    n_counted = n_labelled
    if shared.fmt.crowd_index and getattr(gt, "num_keypoints", None) is not None:
        # keypoints_crowd ignores people by the file's num_keypoints (CrowdPose counts v == 2 only)
        n_counted = np.where(gt.num_keypoints >= 0, gt.num_keypoints, n_labelled)
    gt_ignore = shared.gt_crowd | (n_counted[shared.gt_order] == 0)
    dt_matched, dt_ignored, gt_ignored = match_groups(
        dt_start, dt_count, gt_start, gt_count, oks, oks_start, gt_ignore, shared.gt_range_area,
        shared.gt_crowd, shared.gt_id_nonneg, shared.dt_area[dt_index], IOU_THRESHOLDS, AREA_RANGES,
    )
    n_thr, n_rec, n_area = len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS), len(AREA_RANGES)
    precision = -np.ones((n_thr, n_rec, shared.n_categories, n_area, 1))
    recall = -np.ones((n_thr, shared.n_categories, n_area, 1))
    scores = scores[dt_index]
    for k in range(shared.n_categories):
        lo, hi = k * shared.n_images, (k + 1) * shared.n_images
        d0, d1 = np.searchsorted(dt_keys, [lo, hi])
        g0, g1 = np.searchsorted(shared.gt_keys, [lo, hi])
        order = rank_results(scores[d0:d1])
        for a in range(n_area):
            n_regular = int(np.count_nonzero(~gt_ignored[a, g0:g1]))
            if n_regular == 0:
                continue
            accumulate_category(order, dt_matched[a, :, d0:d1], dt_ignored[a, :, d0:d1], n_regular,
                                precision[:, :, k, a, 0], recall[:, k, a, 0])
    return precision, recall


def evaluate(gt, res, parts=None) -> Evaluation:
    """Keypoint stats of results ``res`` against ground truth ``gt`` for each part.

    ``gt`` / ``res`` are the parsed :class:`wholebody.data.cocowb.GroundTruth` / ``Results``
    (any object with the same array attributes works); ``gt.format`` (COCO-WholeBody when
    absent) gives the sigmas and parts; ``parts`` defaults to all of them.  A part with no
    point the results have is skipped.  Nothing is parsed per part, and nothing is copied
    unless the results lack some of a part's points (those that remain are gathered).
    """
    from wholebody.eval.crowd import crowd_index_stats

    shared = _prepare(gt, res)
    evaluation = Evaluation(title=shared.fmt.title)
    for part in shared.fmt.eval_parts if parts is None else parts:
        if part not in shared.fmt.eval_parts:
            raise ValueError(f"unknown part {part!r} for {shared.fmt.title}; expected one of {tuple(shared.fmt.eval_parts)}")
        points = part_points(shared, part)
        if not isinstance(points, slice) and len(points) == 0:
            log.warning("%s: the results have no point of part %r; not evaluated", getattr(res, "path", "results"), part)
            continue
        precision, recall = _evaluate_part(shared, gt, res, part)
        evaluation.stats[part] = summarize(precision, recall)
        evaluation.precision[part] = precision[:, :, 0, :, 0]
        evaluation.recall[part] = recall[:, 0, :, 0]
        if shared.fmt.crowd_index:
            evaluation.stats[part] |= crowd_index_stats(gt, res, part, _prepare, _evaluate_part)
    return evaluation


def evaluate_files(gt_path, res_path, rescore: bool = False, oks_nms: bool = False, parts=None,
                   layout: str | None = None) -> Evaluation:
    """Load a ground-truth and a results JSON of any supported layout (``layout`` forces the
    ground truth's), optionally rescore / OKS-NMS the results (:mod:`wholebody.eval.postprocess`,
    mmpose's defaults) and evaluate every part (or ``parts``)."""
    from wholebody.data.keypoint_files import load_keypoint_ground_truth, load_keypoint_results, restrict_to_scored
    from wholebody.eval import postprocess

    gt = load_keypoint_ground_truth(gt_path, layout=layout)
    # Results mapped from another layout: cut both to the points they share, so that OKS-NMS
    # too compares only real points (the evaluator alone would also leave the others out).
    gt, res = restrict_to_scored(gt, load_keypoint_results(res_path, gt))
    if rescore:
        res = postprocess.rescore_results(res)
    if oks_nms:
        res = postprocess.oks_nms_results(res, sigmas=gt.format.sigmas)
    return evaluate(gt, res, parts=parts)


def format_table(stats: dict[str, dict[str, float]], full: bool = False) -> str:
    """A plain-text table, one row per part (COCO-WholeBody paper Table 2 style: AP, AR).

    ``full`` adds AP50, AP75, APm, APl, AR50, AR75, ARm, ARl.  Values are fractions (0..1).
    """
    columns = STAT_NAMES if full else ("AP", "AR")
    order = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl") if full else columns
    crowd = tuple(c for c in CROWD_STAT_NAMES if any(c in row for row in stats.values()))
    order = order + crowd  # CrowdPose's AP per crowd-index class, always shown when present
    width = max(len(PART_TITLES.get(p, p)) for p in stats) if stats else 4
    lines = [f"{'part':<{width}}  " + "  ".join(f"{c:>6}" for c in order)]
    lines.append("-" * len(lines[0]))
    for part, row in stats.items():
        lines.append(f"{PART_TITLES.get(part, part):<{width}}  " + "  ".join(f"{row[c]:6.3f}" for c in order))
    return "\n".join(lines)
