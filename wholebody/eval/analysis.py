"""Keypoint error diagnosis after Ronchi & Perona (ICCV 2017), per COCO-WholeBody part.

For one part (its points and sigmas as in the evaluator), every result is matched to at most
one ground-truth person with the evaluator's greedy rule (xtcocotools ``evaluateImg``: results
of an image best score first, top 20, each takes the free person of highest OKS >= the match
threshold, regular people before ignored ones), at a low OKS (default 0.1).  Then each labelled
point of a matched result is classified by its keypoint similarity (KS) to a GT point g,

    ks = exp(-d^2 / (2 (A + eps) (2 sigma)^2))      d in pixels, A = the GT person's area,

the per-point term of the OKS.  With ks_own = KS to its own point of its own person:

* good: ks_own >= 0.85;  jitter: 0.5 <= ks_own < 0.85;
* inversion: ks_own < 0.5 but KS >= 0.5 to the left/right flip partner (``FLIP_PAIRS``) of
  the same person (the partner's sigma; for hands the partner is in the other hand);
* swap: otherwise, KS >= 0.5 to the same point of another person of the image;
* miss: none of these.

A result that matches nobody is a background false positive; a regular person that no result
matches is a false negative.  Results matched to ignored people (crowd, or no point of the part
labelled) are neither and are left out.  Fixing errors and re-scoring: :mod:`.analysis_fixes`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wholebody.eval.accumulate import MAX_DETS
from wholebody.eval.cocoeval import compute_oks
from wholebody.schema.formats import COCO_WHOLEBODY_FORMAT, KeypointFormat

ERROR_TYPES = ("jitter", "inversion", "swap", "miss")
KEYPOINT_CLASSES = ("good",) + ERROR_TYPES  # label codes 0..4; -1 = not classified
GOOD_KS, JITTER_KS = 0.85, 0.5
_EPS = np.spacing(1)


def format_of(gt) -> KeypointFormat:
    """The ground truth's keypoint format (COCO-WholeBody for objects that carry none)."""
    return getattr(gt, "format", COCO_WHOLEBODY_FORMAT)


def _flip_partners(fmt: KeypointFormat) -> np.ndarray:
    partner = np.full(fmt.num_keypoints, -1, dtype=np.int64)
    for i, j in fmt.layout.flip_pairs:
        partner[i], partner[j] = j, i
    return partner


@dataclass
class PartDiagnosis:
    """Matching and keypoint classes of one part.

    Attributes:
        part: the evaluated part name.
        matched_gt: (M,) ground-truth row of each result, -1 if none.
        evaluated: (M,) the result takes part in this part's evaluation (has a score > 0 in
            the part, is among its image's 20 best).
        dt_ignored: (M,) matched to an ignored person (crowd or part unlabelled).
        false_negative: (G,) regular people that no result matched.
        labels: (M, K_part) int8 codes into ``KEYPOINT_CLASSES``, -1 where not classified.
        targets: (M, K_part, 2) pixels: the own GT point a classified point is fixed to.
    """

    part: str
    matched_gt: np.ndarray
    evaluated: np.ndarray
    dt_ignored: np.ndarray
    false_negative: np.ndarray
    labels: np.ndarray
    targets: np.ndarray

    @property
    def background_fp(self) -> np.ndarray:
        """(M,) evaluated results that matched nobody."""
        return self.evaluated & (self.matched_gt < 0)

    def counts(self) -> dict[str, int]:
        """Keypoints per class, and results / people per detection-level outcome."""
        out = {name: int(np.count_nonzero(self.labels == code)) for code, name in enumerate(KEYPOINT_CLASSES)}
        out["matched_results"] = int(np.count_nonzero((self.matched_gt >= 0) & ~self.dt_ignored))
        out["ignored_results"] = int(np.count_nonzero(self.dt_ignored))
        out["background_fp"] = int(np.count_nonzero(self.background_fp))
        out["false_negatives"] = int(np.count_nonzero(self.false_negative))
        return out


def keypoint_similarity(dt_xy, gt_xy, area, sigma) -> np.ndarray:
    """KS = exp(-d^2 / (2 (area + eps) (2 sigma)^2)); arrays broadcast, d and area in pixels."""
    d2 = np.sum((np.asarray(dt_xy, dtype=np.float64) - gt_xy) ** 2, axis=-1)
    return np.exp(-d2 / (2.0 * (np.asarray(area, dtype=np.float64) + _EPS) * (2.0 * np.asarray(sigma)) ** 2))


def _person_areas(gt) -> np.ndarray:
    """The OKS area of each person: ``area``, or box w * h * 0.53 where it is missing or the
    format does not use it (as the evaluator)."""
    box_area = gt.bbox[:, 2] * gt.bbox[:, 3] * 0.53
    if not format_of(gt).use_area:
        return box_area
    area = np.asarray(gt.area, dtype=np.float64)
    return np.where(np.isnan(area), box_area, area)


def _groups(category_ids, image_ids) -> dict[tuple[int, int], np.ndarray]:
    """(category, image) -> row indices in file order."""
    keys = np.stack([np.asarray(category_ids, np.int64), np.asarray(image_ids, np.int64)], axis=1)
    if len(keys) == 0:
        return {}
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    order = np.argsort(inverse.ravel(), kind="stable")
    bounds = np.searchsorted(inverse.ravel()[order], np.arange(len(unique) + 1))
    return {(int(c), int(i)): order[bounds[n]:bounds[n + 1]] for n, (c, i) in enumerate(unique)}


def match_part(gt, res, part: str, oks_threshold: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Greedy matching of one part at ``oks_threshold`` (module docstring).

    Returns ``matched_gt`` (M,), ``evaluated`` (M,), ``dt_ignored`` (M,) and ``gt_ignored`` (G,).
    """
    fmt = format_of(gt)
    points = fmt.eval_parts[part]
    sigmas = fmt.sigmas[points]
    n_labelled = np.count_nonzero(gt.keypoints[:, points, 2] > 0, axis=1)
    if fmt.crowd_index and getattr(gt, "num_keypoints", None) is not None:  # CrowdPose's rule, as the evaluator
        n_labelled = np.where(gt.num_keypoints >= 0, gt.num_keypoints, n_labelled)
    gt_ignored = np.asarray(gt.iscrowd, bool) | (n_labelled == 0)
    areas = _person_areas(gt)
    scores = np.asarray(res.scores[part], dtype=np.float64)
    evaluated = np.zeros(len(res.image_ids), dtype=bool)
    matched = np.full(len(res.image_ids), -1, dtype=np.int64)
    gt_groups = _groups(gt.category_ids, gt.image_ids)
    has_score = (res.keypoints[:, points, 2] > 0).any(axis=1)
    for key, rows in _groups(res.category_ids, res.image_ids).items():
        rows = rows[has_score[rows]]
        rows = rows[np.argsort(-scores[rows], kind="stable")][:MAX_DETS]
        evaluated[rows] = True
        people = gt_groups.get(key, np.zeros(0, np.int64))
        people = np.concatenate([people[~gt_ignored[people]], people[gt_ignored[people]]])
        if len(rows) == 0 or len(people) == 0:
            continue
        oks = compute_oks(res.keypoints[rows][:, points], gt.keypoints[people][:, points], areas[people],
                          gt.bbox[people], sigmas)
        taken = np.zeros(len(people), dtype=bool)
        for i, row in enumerate(rows):
            best, choice = min(oks_threshold, 1 - 1e-10), -1
            for j, person in enumerate(people):
                if taken[j] and not gt.iscrowd[person]:
                    continue
                if choice > -1 and not gt_ignored[people[choice]] and gt_ignored[person]:
                    break  # a regular person is held: ignored ones come only after
                if oks[i, j] < best:
                    continue
                best, choice = oks[i, j], j
            if choice > -1:
                taken[choice] = True
                matched[row] = people[choice]
    dt_ignored = (matched >= 0) & gt_ignored[np.maximum(matched, 0)]
    return matched, evaluated, dt_ignored, gt_ignored


def classify_part(gt, res, part: str, oks_threshold: float = 0.1) -> PartDiagnosis:
    """Match one part and classify every labelled point of every matched result."""
    matched, evaluated, dt_ignored, gt_ignored = match_part(gt, res, part, oks_threshold)
    fmt = format_of(gt)
    sigmas = fmt.sigmas
    points = np.arange(fmt.num_keypoints)[fmt.eval_parts[part]]
    partner = _flip_partners(fmt)[points]
    areas = _person_areas(gt)
    labels = np.full((len(matched), len(points)), -1, dtype=np.int8)
    targets = np.full((len(matched), len(points), 2), np.nan)
    for d in np.flatnonzero((matched >= 0) & ~dt_ignored):
        g = matched[d]
        dt_xy = res.keypoints[d, points, :2]
        own = gt.keypoints[g, points]
        labelled = own[:, 2] > 0
        ks_own = keypoint_similarity(dt_xy, own[:, :2], areas[g], sigmas[points])
        flipped = gt.keypoints[g, np.maximum(partner, 0)]
        ks_flip = keypoint_similarity(dt_xy, flipped[:, :2], areas[g], sigmas[np.maximum(partner, 0)])
        ks_flip = np.where((partner >= 0) & (flipped[:, 2] > 0), ks_flip, 0.0)
        others = np.flatnonzero((gt.image_ids == gt.image_ids[g]) & (gt.category_ids == gt.category_ids[g])
                                & ~np.asarray(gt.iscrowd, bool))
        others = others[others != g]
        ks_swap = np.zeros(len(points))
        if len(others):
            theirs = gt.keypoints[others][:, points]  # (O, K, 3)
            ks = keypoint_similarity(dt_xy[None], theirs[..., :2], areas[others][:, None], sigmas[points][None])
            ks_swap = np.where(theirs[..., 2] > 0, ks, 0.0).max(axis=0)
        code = np.select(
            [ks_own >= GOOD_KS, ks_own >= JITTER_KS, ks_flip >= JITTER_KS, ks_swap >= JITTER_KS],
            [0, 1, 2, 3], default=4,
        )
        labels[d] = np.where(labelled, code, -1)
        targets[d] = np.where(labelled[:, None], own[:, :2], np.nan)
    false_negative = ~gt_ignored & ~np.isin(np.arange(len(gt_ignored)), matched)
    return PartDiagnosis(part, matched, evaluated, dt_ignored, false_negative, labels, targets)
