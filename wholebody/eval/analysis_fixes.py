"""AP gained by fixing each error type (Ronchi & Perona's PR-curve analysis), per part.

Starting from the original results, the steps are cumulative, as in the paper's figure:

1. ``original``;
2. ``jitter``: jittered points of matched results moved onto their own GT point;
3. ``inversion``: inverted points too;   4. ``swap``: swapped points too;   5. ``miss``: missed
   points too (every error of a matched result is fixed; its good points are left as they are,
   so each matched result now has OKS >= 0.85 with its person);
6. ``background_fp``: background false positives removed (their part scores set to 0, which the
   evaluator treats as "no result for this part"), together with the results whose only match
   is an ignored person: the evaluator ignores them at low OKS thresholds but counts them as
   false positives at the thresholds where that match is lost, and dropping them never lowers AP;
7. ``false_negatives``: people no result matched removed (their part's points set unlabelled,
   which makes them ignored people).

After step 7 every regular person has one result with OKS >= 0.85 and no result is a false
positive, so AP at OKS <= 0.85 is 1.  Each step is scored with the same evaluator
(:func:`wholebody.eval.cocoeval.evaluate`) on copies of ``gt`` / ``res``
(``dataclasses.replace``), restricted to the part.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from wholebody.eval.accumulate import IOU_THRESHOLDS
from wholebody.eval.analysis import ERROR_TYPES, KEYPOINT_CLASSES, PartDiagnosis, classify_part, format_of
from wholebody.eval.cocoeval import evaluate

STEPS = ("original",) + ERROR_TYPES + ("background_fp", "false_negatives")
STEP_LABELS = {
    "original": "Original", "jitter": "+ fix jitter", "inversion": "+ fix inversion", "swap": "+ fix swap",
    "miss": "+ fix miss", "background_fp": "- background FP", "false_negatives": "- false negatives",
}


@dataclass
class StepResult:
    """One step of the analysis: its stats and the PR curve at the plotted OKS threshold.

    Attributes:
        name: a name of ``STEPS``.
        stats: the evaluator's 10 stats ("AP" ... "ARl") for the part.
        ap_at_oks: AP at ``oks`` only (area all), -1 if the part has no regular person.
        precision: (101,) precision at ``RECALL_THRESHOLDS`` for OKS ``oks``, -1 undefined.
    """

    name: str
    stats: dict[str, float]
    ap_at_oks: float
    precision: np.ndarray


@dataclass
class PartAnalysis:
    """Diagnosis and fix steps of one part; ``oks`` is the threshold of the PR curves."""

    diagnosis: PartDiagnosis
    steps: list[StepResult]
    oks: float

    def summary(self) -> dict:
        """JSON-ready: counts, and AP / AP at ``oks`` after each step."""
        return {
            "counts": self.diagnosis.counts(),
            "pr_oks": self.oks,
            "steps": [{"name": s.name, "AP": s.stats["AP"], f"AP@{self.oks:g}": s.ap_at_oks, "AR": s.stats["AR"]}
                      for s in self.steps],
        }


def _threshold_index(oks: float) -> int:
    hits = np.flatnonzero(np.isclose(IOU_THRESHOLDS, oks))
    if len(hits) != 1:
        raise ValueError(f"PR curves exist only at OKS {', '.join(f'{t:.2f}' for t in IOU_THRESHOLDS)}; got {oks}")
    return int(hits[0])


def _fix_points(res, diagnosis: PartDiagnosis, classes: tuple[str, ...], points: slice) -> np.ndarray:
    """Result keypoints with every point of the given classes moved onto its GT point."""
    keypoints = res.keypoints.copy()
    codes = [KEYPOINT_CLASSES.index(c) for c in classes]
    fix = np.isin(diagnosis.labels, codes)
    part_xy = keypoints[:, points, :2]  # a view into the copy
    part_xy[fix] = diagnosis.targets[fix]
    return keypoints


def fixed_inputs(gt, res, diagnosis: PartDiagnosis):
    """Yield ``(step, gt_copy, res_copy)`` for each of ``STEPS`` (cumulative; module docstring)."""
    points = format_of(gt).eval_parts[diagnosis.part]
    yield "original", gt, res
    for i, error in enumerate(ERROR_TYPES):
        res = dataclasses.replace(res, keypoints=_fix_points(res, diagnosis, ERROR_TYPES[: i + 1], points))
        yield error, gt, res
    keypoints = res.keypoints.copy()
    keypoints[np.ix_(diagnosis.background_fp | diagnosis.dt_ignored, np.arange(keypoints.shape[1])[points], [2])] = 0.0
    res = dataclasses.replace(res, keypoints=keypoints)
    yield "background_fp", gt, res
    gt_keypoints = gt.keypoints.copy()
    gt_keypoints[np.ix_(diagnosis.false_negative, np.arange(gt_keypoints.shape[1])[points], [2])] = 0.0
    yield "false_negatives", dataclasses.replace(gt, keypoints=gt_keypoints), res


def analyze_part(gt, res, part: str, match_oks: float = 0.1, pr_oks: float = 0.75) -> PartAnalysis:
    """Classify one part's errors and score every fix step (PR curves at ``pr_oks``)."""
    t = _threshold_index(pr_oks)
    diagnosis = classify_part(gt, res, part, match_oks)
    steps = []
    for name, gt_step, res_step in fixed_inputs(gt, res, diagnosis):
        ev = evaluate(gt_step, res_step, parts=(part,))
        precision = ev.precision[part][t, :, 0]
        ap = float(precision.mean()) if (precision > -1).all() else -1.0
        steps.append(StepResult(name, ev.stats[part], ap, precision.copy()))
    return PartAnalysis(diagnosis, steps, pr_oks)


def analyze(gt, res, parts=None, match_oks: float = 0.1, pr_oks: float = 0.75) -> dict[str, PartAnalysis]:
    """:func:`analyze_part` for every part of ``parts`` (default: all of the ground truth's format)."""
    fmt = format_of(gt)
    parts = tuple(fmt.eval_parts) if parts is None else parts
    for part in parts:
        if part not in fmt.eval_parts:
            raise ValueError(f"unknown part {part!r} for {fmt.title}; expected one of {tuple(fmt.eval_parts)}")
    return {part: analyze_part(gt, res, part, match_oks, pr_oks) for part in parts}


__all__ = ["STEPS", "STEP_LABELS", "PartAnalysis", "StepResult", "analyze", "analyze_part",
           "fixed_inputs"]
