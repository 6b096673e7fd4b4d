"""Root-relative 3D keypoint metrics: MPJPE, 3D-PCK (MuPoTS-3D) and the RHD 3D-PCK AUC.

Inputs are 3D points in metres, ``pred`` and ``gt`` (N, K, 3), in any frame shared by the
two arrays (both are re-centred on their own root), and ``visible`` (N, K) or ``None``.
``root`` is one joint index or a tuple of indices whose mean is the root (e.g. the two hips
for a 13-joint DOPE body).  The root is taken from each array as given, whatever the mask.
Empty-input rule and input errors: see :mod:`wholebody.eval.metrics_common`.

Conventions:

* MPJPE: mean Euclidean error over all visible joints (pooled), after root-centring.
* 3D-PCK (MuPoTS-3D): a joint is correct if its root-relative error < 150 mm (strict); the
  mean pools all visible joints.  No Procrustes alignment.
* RHD AUC (Zimmermann & Brox, lmb-freiburg/hand3d ``EvalUtil``): GT centred on the root
  (joint 0, the wrist); the prediction root-centred and, by default, rescaled so that its
  reference bone has the GT length (``scale_bone``; the hand3d reference bone is the first
  middle-finger phalanx, COCO-WholeBody / mmpose-RHD hand indices 9-10).  Per keypoint, PCK(t)
  = fraction of visible samples with error <= t at 20 thresholds ``linspace(0, 50 mm)``;
  AUC = trapezoid area / threshold range; the result is the mean over keypoints with data.
  ``auc`` covers 0-50 mm; ``auc_20_50`` uses only the thresholds >= 20 mm (the last 12,
  21.05-50 mm), which is the figure the hand literature reports as "AUC 20-50 mm".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wholebody.eval.metrics_common import JointAccuracy, as_mask, as_points, empty_summary, point_errors, ratio_or_nan

MUPOTS_PCK_THRESHOLD = 0.150  # metres
RHD_THRESHOLDS = np.linspace(0.0, 0.050, 20)  # metres
RHD_AUC_FROM = 0.020  # metres: start of the "20-50 mm" AUC
RHD_SCALE_BONE = (9, 10)  # middle finger, first phalanx, in the 21-point hand order


def root_relative(points: np.ndarray, root) -> np.ndarray:
    """Points (N, K, 3) minus their root: joint ``root`` or the mean of joints ``root`` (tuple)."""
    index = [root] if np.isscalar(root) else list(root)
    return points - points[:, index].mean(axis=1, keepdims=True)


def _root_relative_errors(pred, gt, visible, root, metric: str) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = as_points(pred, gt, (3,), metric)
    visible = as_mask(visible, gt.shape[:2], metric)
    return point_errors(root_relative(pred, root), root_relative(gt, root), visible, metric), visible


def mpjpe(pred, gt, visible=None, root=0) -> float:
    """Mean per-joint position error in metres after root-centring both poses."""
    errors, visible = _root_relative_errors(pred, gt, visible, root, "mpjpe")
    return float(np.nanmean(errors)) if visible.any() else empty_summary("mpjpe")


def pck3d(pred, gt, visible=None, threshold: float = MUPOTS_PCK_THRESHOLD, root=0) -> JointAccuracy:
    """Root-relative 3D-PCK: a visible joint is correct if its error < ``threshold`` metres.

    Returns ``per_joint`` PCK, ``counts`` and ``mean`` pooled over all visible joints.
    """
    errors, visible = _root_relative_errors(pred, gt, visible, root, "pck3d")
    hits = (visible & (errors < threshold)).sum(axis=0)
    counts = visible.sum(axis=0)
    mean = hits.sum() / counts.sum() if counts.sum() else empty_summary("pck3d")
    return JointAccuracy(ratio_or_nan(hits, counts), counts, float(mean))


@dataclass(frozen=True)
class PCKCurve:
    """Result of :func:`pck3d_auc`.

    Attributes:
        thresholds: (T,) metres.
        curve: (T,) PCK at each threshold, mean over keypoints with data.
        auc: trapezoid AUC over all thresholds / their range, mean over keypoints.
        auc_20_50: the same over the thresholds >= ``auc_from`` only.
        epe_mean, epe_median: metres; mean over keypoints of the per-keypoint mean / median.
    """

    thresholds: np.ndarray
    curve: np.ndarray
    auc: float
    auc_20_50: float
    epe_mean: float
    epe_median: float


def rescale_to_gt_bone(pred_rel: np.ndarray, gt_rel: np.ndarray, bone: tuple[int, int]) -> np.ndarray:
    """Scale each root-relative prediction (N, K, 3) so its ``bone`` length equals the GT one."""
    a, b = bone
    pred_len = np.linalg.norm(pred_rel[:, a] - pred_rel[:, b], axis=-1)
    gt_len = np.linalg.norm(gt_rel[:, a] - gt_rel[:, b], axis=-1)
    if np.any(pred_len <= 0):
        first = int(np.argmin(pred_len))
        raise ValueError(f"rescale_to_gt_bone: predicted bone {bone} has zero length in instance {first}")
    return pred_rel * (gt_len / pred_len)[:, None, None]


def _trapezoid_auc(curves: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Normalised trapezoid area of each row of ``curves`` (M, T) over ``thresholds`` (T,)."""
    widths = np.diff(thresholds)
    area = ((curves[:, 1:] + curves[:, :-1]) * 0.5 * widths).sum(axis=1)
    return area / (thresholds[-1] - thresholds[0])


def pck3d_auc(
    pred,
    gt,
    visible=None,
    root=0,
    scale_bone: tuple[int, int] | None = RHD_SCALE_BONE,
    thresholds=RHD_THRESHOLDS,
    auc_from: float = RHD_AUC_FROM,
) -> PCKCurve:
    """RHD-convention 3D-PCK curve and AUC (module docstring); metres in and out.

    ``scale_bone=None`` keeps the prediction's own scale (root-centred only).
    """
    pred, gt = as_points(pred, gt, (3,), "pck3d_auc")
    visible = as_mask(visible, gt.shape[:2], "pck3d_auc")
    thresholds = np.asarray(thresholds, dtype=np.float64)
    subset = thresholds >= auc_from - 1e-12
    if thresholds.size < 2 or subset.sum() < 2:
        raise ValueError("pck3d_auc: need at least two thresholds overall and two >= auc_from")
    gt_rel = root_relative(gt, root)
    pred_rel = root_relative(pred, root)
    if scale_bone is not None:
        pred_rel = rescale_to_gt_bone(pred_rel, gt_rel, scale_bone)
    errors = point_errors(pred_rel, gt_rel, visible, "pck3d_auc")
    keypoints = np.flatnonzero(visible.any(axis=0))
    if keypoints.size == 0:
        nan = empty_summary("pck3d_auc")
        return PCKCurve(thresholds, np.full(thresholds.shape, nan), nan, nan, nan, nan)
    counts = visible[:, keypoints].sum(axis=0)
    hits = (errors[:, keypoints, None] <= thresholds) & visible[:, keypoints, None]
    curves = hits.sum(axis=0) / counts[:, None]  # (keypoints, T)
    return PCKCurve(
        thresholds=thresholds,
        curve=curves.mean(axis=0),
        auc=float(_trapezoid_auc(curves, thresholds).mean()),
        auc_20_50=float(_trapezoid_auc(curves[:, subset], thresholds[subset]).mean()),
        epe_mean=float(np.nanmean(np.nanmean(errors[:, keypoints], axis=0))),
        epe_median=float(np.nanmean(np.nanmedian(errors[:, keypoints], axis=0))),
    )
