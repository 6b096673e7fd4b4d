"""Whole-body error budget: the whole-body AP the results would score if one part were perfect.

A whole-body OKS averages all labelled points of a person, so a part that fails everywhere (say
the hands, 42 of the 133 points) caps whole-body AP whatever the other parts do.  To show which
part limits a run, each result matched to a person (greedy whole-body matching at ``match_oks``,
as :func:`wholebody.eval.analysis.match_part`) gets that person's ground-truth points for one
part group -- body (body + feet), face, or hands (both) -- and the whole-body AP is computed
again.  Only labelled ground-truth points are copied (the others are not scored anyway); point
and instance scores are kept, so ranking errors stay in every figure, and unmatched results
(background false positives) are left as they are.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from wholebody.eval.analysis import match_part
from wholebody.eval.cocoeval import PART_POINTS, evaluate

PART_GROUPS = {"body": ("body", "foot"), "face": ("face",), "hands": ("lefthand", "righthand")}


def with_perfect_parts(gt, res, matched_gt: np.ndarray, parts: tuple[str, ...]):
    """A copy of ``res`` whose matched results carry their person's labelled points of ``parts``."""
    keypoints = res.keypoints.copy()
    rows = np.flatnonzero(matched_gt >= 0)
    for part in parts:
        points = np.arange(res.keypoints.shape[1])[PART_POINTS[part]]
        truth = gt.keypoints[matched_gt[rows]][:, points]  # (R, P, 3)
        labelled = truth[..., 2] > 0
        block = keypoints[np.ix_(rows, points)]  # a copy: written back below
        block[..., :2] = np.where(labelled[..., None], truth[..., :2], block[..., :2])
        keypoints[np.ix_(rows, points)] = block
    return dataclasses.replace(res, keypoints=keypoints)


def wholebody_budget(gt, res, match_oks: float = 0.1) -> dict[str, float]:
    """Whole-body AP as it is (``"original"``) and with each part group of ``PART_GROUPS`` perfect."""
    matched, _, _, _ = match_part(gt, res, "wholebody", match_oks)
    budget = {"original": float(evaluate(gt, res, parts=("wholebody",)).stats["wholebody"]["AP"])}
    for name, parts in PART_GROUPS.items():
        fixed = with_perfect_parts(gt, res, matched, parts)
        budget[f"perfect_{name}"] = float(evaluate(gt, fixed, parts=("wholebody",)).stats["wholebody"]["AP"])
    return budget


__all__ = ["PART_GROUPS", "wholebody_budget", "with_perfect_parts"]
