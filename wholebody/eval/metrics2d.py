"""2D keypoint metrics of the body and hand sub-tasks: MPII PCKh, hand EPE / NME / PCK / AUC.

All inputs are pixels of the original image: ``pred`` and ``gt`` (N, K, 2), ``visible`` (N, K)
(bool, or COCO v with v > 0 meaning labelled; ``None`` = all).  Boxes are COCO ``[x, y, w, h]``.
Empty-input rule and input errors: see :mod:`wholebody.eval.metrics_common`.

Conventions (each follows the code that produced the published numbers):

* PCKh (MPII evaluation, mmpose ``MpiiPCKAccuracy``): correct if error <= thr x head size,
  head size = 0.6 x head-box diagonal (SC_BIAS); mean = per-joint PCKh weighted by joint
  counts = pooled over joints, usually excluding pelvis and thorax.
* PCK / AUC / EPE (mmpose ``PCKAccuracy``, ``AUC``, ``EPE``): PCK counts error / norm < thr
  (strict), per keypoint over instances, then the plain mean over keypoints that have any
  visible instance.  AUC = mean PCK at thresholds i/20 x ``norm_px`` (i = 0..19, pixels), a
  left Riemann sum, so its maximum is 0.95.  EPE pools all visible points.
"""

from __future__ import annotations

import numpy as np

from wholebody.eval.metrics_common import (
    JointAccuracy,
    as_boxes,
    as_mask,
    as_per_instance,
    as_points,
    empty_summary,
    point_errors,
    ratio_or_nan,
)

# MPII 16-joint order and the reporting groups (left/right averaged, unweighted, as mmpose).
MPII_JOINTS = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis",
    "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder",
    "left_shoulder", "left_elbow", "left_wrist",
)
MPII_EXCLUDED = (6, 7)  # pelvis and thorax are left out of the reported mean
MPII_GROUPS: dict[str, tuple[int, ...]] = {
    "head": (9,), "shoulder": (12, 13), "elbow": (11, 14), "wrist": (10, 15),
    "hip": (2, 3), "knee": (1, 4), "ankle": (0, 5),
}
MPII_HEAD_SIZE_FACTOR = 0.6  # SC_BIAS of the MPII evaluation code
# For each DOPE body-13 joint (schema.DOPE_BODY13 order), its MPII index; DOPE "head" is the
# MPII head top.  ``gt_mpii[:, DOPE13_TO_MPII]`` is the common subset DOPE is scored on.
DOPE13_TO_MPII = (0, 5, 1, 4, 2, 3, 10, 15, 11, 14, 12, 13, 9)


def mpii_head_size(head_boxes) -> np.ndarray:
    """MPII head size (N,) in pixels: 0.6 x diagonal of head boxes (N, 4) given as x1, y1, x2, y2."""
    head_boxes = np.asarray(head_boxes, dtype=np.float64)
    if head_boxes.ndim != 2 or head_boxes.shape[1] != 4:
        raise ValueError(f"mpii_head_size: head boxes must be (N, 4) x1,y1,x2,y2, got {head_boxes.shape}")
    return MPII_HEAD_SIZE_FACTOR * np.hypot(head_boxes[:, 2] - head_boxes[:, 0], head_boxes[:, 3] - head_boxes[:, 1])


def pckh(pred, gt, visible, head_sizes, threshold: float = 0.5, exclude=MPII_EXCLUDED) -> JointAccuracy:
    """MPII PCKh: a visible joint is correct if its error <= ``threshold`` x head size.

    Args:
        pred, gt: (N, K, 2) pixels.  visible: (N, K) mask.  head_sizes: (N,) pixels, e.g.
            from :func:`mpii_head_size`; must be > 0 for every instance with a visible joint.
        exclude: joint indices left out of the mean; the default (6, 7) is pelvis and thorax of
            the MPII 16 order, so pass ``()`` for another layout (e.g. the DOPE-13 subset from
            ``DOPE13_TO_MPII``, which has neither).  Their per-joint values are still reported.

    Returns:
        ``per_joint`` PCKh, ``counts``, and ``mean`` = correct / visible pooled over the
        non-excluded joints (the count-weighted mean of the per-joint values).
    """
    pred, gt = as_points(pred, gt, (2,), "pckh")
    visible = as_mask(visible, gt.shape[:2], "pckh")
    head_sizes = as_per_instance(head_sizes, gt.shape[0], "head_sizes", "pckh")
    used = visible.any(axis=1)
    if np.any(used & ~(head_sizes > 0)):
        raise ValueError(f"pckh: head size must be > 0, instance {int(np.argmax(used & ~(head_sizes > 0)))}")
    errors = point_errors(pred, gt, visible, "pckh")
    correct = visible & (errors <= threshold * np.where(used, head_sizes, 1.0)[:, None])
    counts = visible.sum(axis=0)
    hits = correct.sum(axis=0)
    kept = np.ones(gt.shape[1], dtype=bool)
    kept[list(exclude)] = False
    total = counts[kept].sum()
    mean = hits[kept].sum() / total if total else empty_summary("pckh")
    return JointAccuracy(ratio_or_nan(hits, counts), counts, float(mean))


def group_means(per_joint, groups: dict[str, tuple[int, ...]] = MPII_GROUPS) -> dict[str, float]:
    """Unweighted mean of the per-joint values of each group (e.g. left/right shoulder), NaN-aware."""
    per_joint = np.asarray(per_joint, dtype=np.float64)
    out = {}
    for name, index in groups.items():
        values = per_joint[list(index)]
        out[name] = float(np.mean(values[~np.isnan(values)])) if (~np.isnan(values)).any() else float("nan")
    return out


def epe(pred, gt, visible=None) -> float:
    """End-point error: mean pixel distance over all visible points (pooled over instances)."""
    pred, gt = as_points(pred, gt, (2, 3), "epe")
    visible = as_mask(visible, gt.shape[:2], "epe")
    errors = point_errors(pred, gt, visible, "epe")
    return float(np.nanmean(errors)) if visible.any() else empty_summary("epe")


def box_size(bboxes, mode: str = "max_side") -> np.ndarray:
    """Normalising size (N,) of COCO boxes (N, 4) in pixels.

    ``mode``: ``"max_side"`` = max(w, h) (mmpose hand PCK), ``"diagonal"`` = sqrt(w^2 + h^2),
    ``"sqrt_area"`` = sqrt(w h).
    """
    bboxes = np.asarray(bboxes, dtype=np.float64)
    if bboxes.ndim != 2 or bboxes.shape[1] != 4:
        raise ValueError(f"box_size: boxes must be (N, 4) [x, y, w, h], got {bboxes.shape}")
    w, h = bboxes[:, 2], bboxes[:, 3]
    sizes = {"max_side": np.maximum(w, h), "diagonal": np.hypot(w, h), "sqrt_area": np.sqrt(np.clip(w * h, 0, None))}
    if mode not in sizes:
        raise ValueError(f"box_size: unknown mode {mode!r}; use one of {sorted(sizes)}")
    return sizes[mode]


def _normalised_errors(pred, gt, visible, norm, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Errors (N, K) divided by a per-instance size (N,) in pixels; NaN where not visible."""
    pred, gt = as_points(pred, gt, (2,), metric)
    visible = as_mask(visible, gt.shape[:2], metric)
    norm = as_per_instance(norm, gt.shape[0], "normaliser", metric)
    bad = visible.any(axis=1) & ~(norm > 0)
    if bad.any():
        raise ValueError(f"{metric}: normaliser must be > 0, instance {int(np.argmax(bad))} has {norm[bad][0]}")
    errors = point_errors(pred, gt, visible, metric)
    return errors / np.where(norm > 0, norm, 1.0)[:, None], visible


def nme_box(pred, gt, visible, bboxes, mode: str = "max_side") -> float:
    """Box-normalised NME: mean over all visible points of error / box size (see :func:`box_size`)."""
    bboxes = as_boxes(bboxes, np.shape(gt)[0], "nme_box")
    errors, visible = _normalised_errors(pred, gt, visible, box_size(bboxes, mode), "nme_box")
    return float(np.nanmean(errors)) if visible.any() else empty_summary("nme_box")


def pck(pred, gt, visible, norm, threshold: float = 0.2) -> JointAccuracy:
    """mmpose PCK: a point is correct if error / norm < ``threshold`` (strict).

    Args:
        norm: (N,) pixels; for hands, ``box_size(bboxes, "max_side")`` gives PCK@0.2 as in
            the mmpose hand configs.

    Returns:
        ``per_joint`` accuracy over visible instances, ``counts``, and ``mean`` = the plain
        mean over joints that have at least one visible instance.
    """
    errors, visible = _normalised_errors(pred, gt, visible, norm, "pck")
    counts = visible.sum(axis=0)
    per_joint = ratio_or_nan((visible & (errors < threshold)).sum(axis=0), counts)
    mean = np.nanmean(per_joint) if (counts > 0).any() else empty_summary("pck")
    return JointAccuracy(per_joint, counts, float(mean))


def pck_auc(pred, gt, visible=None, norm_px: float = 30.0, num_thresholds: int = 20) -> float:
    """mmpose AUC: the mean of :func:`pck` means at thresholds i/``num_thresholds`` (i = 0..n-1).

    Every instance is normalised by the same ``norm_px`` pixels (mmpose default 30), so the
    thresholds are 0, 1.5, ..., 28.5 px.  The i = 0 term is always 0 (strict ``<``).
    """
    pred, gt = as_points(pred, gt, (2,), "pck_auc")
    visible = as_mask(visible, gt.shape[:2], "pck_auc")
    if not visible.any():
        return empty_summary("pck_auc")
    norm = np.full(gt.shape[0], float(norm_px))
    return float(np.mean([pck(pred, gt, visible, norm, i / num_thresholds).mean for i in range(num_thresholds)]))
