"""Input checks and the "nothing to evaluate" rule shared by the sub-task metrics.

Every metric takes predictions and ground truth as arrays of identical shape (N, K, D):
N instances (images, hands, faces, people), K keypoints, D = 2 (pixels) or 3 (metres), and
an optional boolean mask (N, K) of labelled / visible ground-truth points.

Empty-input rule, the same for every metric: a per-joint or per-image entry with no visible
point is NaN (by definition, not by accident); a summary over *nothing at all* is NaN and
emits a ``RuntimeWarning`` naming the metric, so it is never silent.  Malformed input (wrong
rank, mismatched shapes, NaN in a visible point) raises ``ValueError``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class JointAccuracy:
    """A per-joint accuracy and its summary.

    Attributes:
        per_joint: (K,) fraction correct per joint, NaN for a joint with no visible instance.
        counts: (K,) number of visible instances per joint.
        mean: the summary (see the function that returned it); NaN if nothing was visible.
    """

    per_joint: np.ndarray
    counts: np.ndarray
    mean: float


def as_points(pred, gt, dims: tuple[int, ...], metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate and return ``pred`` and ``gt`` as float64 arrays (N, K, D) with D in ``dims``."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if gt.ndim != 3 or gt.shape[-1] not in dims:
        raise ValueError(f"{metric}: ground truth must be (N, K, {'|'.join(map(str, dims))}), got {gt.shape}")
    if pred.shape != gt.shape:
        raise ValueError(f"{metric}: prediction shape {pred.shape} does not match ground truth {gt.shape}")
    return pred, gt


def as_mask(visible, shape: tuple[int, int], metric: str) -> np.ndarray:
    """Return the (N, K) boolean visibility mask; ``None`` means every point counts.

    A mask may be boolean or numeric (COCO visibility: v > 0 means labelled).
    """
    if visible is None:
        return np.ones(shape, dtype=bool)
    visible = np.asarray(visible)
    if visible.shape != shape:
        raise ValueError(f"{metric}: visibility mask shape {visible.shape} does not match (N, K) = {shape}")
    return visible > 0 if visible.dtype != bool else visible


def as_per_instance(values, n: int, name: str, metric: str) -> np.ndarray:
    """Validate a per-instance vector (N,) such as head sizes or normalisers."""
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (n,):
        raise ValueError(f"{metric}: {name} must have shape ({n},), got {values.shape}")
    return values


def as_boxes(bboxes, n: int, metric: str) -> np.ndarray:
    """Validate boxes (N, 4) and return them as float64."""
    bboxes = np.asarray(bboxes, dtype=np.float64)
    if bboxes.shape != (n, 4):
        raise ValueError(f"{metric}: boxes must have shape ({n}, 4), got {bboxes.shape}")
    return bboxes


def point_errors(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, metric: str) -> np.ndarray:
    """Euclidean error per point (N, K) in the input unit; NaN where not visible.

    Raises ``ValueError`` if a visible point has a non-finite coordinate.
    """
    errors = np.linalg.norm(pred - gt, axis=-1)
    bad = visible & ~np.isfinite(errors)
    if bad.any():
        n, k = np.argwhere(bad)[0]
        raise ValueError(f"{metric}: non-finite coordinate at instance {n}, keypoint {k}")
    return np.where(visible, errors, np.nan)


def empty_summary(metric: str, what: str = "visible joints") -> float:
    """The documented result of a summary over nothing: NaN, with a RuntimeWarning."""
    warnings.warn(f"{metric}: no {what} to evaluate; result is NaN", RuntimeWarning, stacklevel=3)
    return float("nan")


def ratio_or_nan(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Element-wise numerator / denominator, NaN where the denominator is 0 (no samples)."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out
