"""Face landmark metrics: 300W inter-ocular NME and the Menpo 3DA-2D error with CED / AUC.

Inputs are pixels: ``pred`` and ``gt`` (N, K, 2) for N faces, ``visible`` (N, K) or ``None``.
Empty-input rule and input errors: see :mod:`wholebody.eval.metrics_common`.

* 300W NME: per face, the mean over visible landmarks of error / d_io, d_io = distance between
  the GT outer eye corners, 0-based 36 and 45 of the iBUG-68 order; the reported NME is the
  mean over faces.  mmpose's ``NME`` pools all visible landmarks of all faces instead; the two
  agree whenever every face has the same number of visible landmarks (always so for 300W).
* Menpo 3DA-2D: per face, error / d_box, d_box = diagonal of the GT landmark bounding box.
  Two readings exist and differ unless every landmark has the same error:

  - ``"mean"`` (default, the Menpo benchmark formula and the project brief): the mean
    point-to-point distance, sum_i ||p_i - g_i|| / (N d_box).  Papers call it the
    "normalised point-to-point RMS error" although no square is taken.
  - ``"rms"``: the root-mean-square distance, sqrt(sum_i ||p_i - g_i||^2) / (sqrt(N) d_box)
    = sqrt(mean_i ||p_i - g_i||^2) / d_box, which is >= the ``"mean"`` value (Jensen).

* CED / AUC: CED(t) = fraction of faces with error <= t; AUC@c = (1/c) int_0^c CED(t) dt,
  computed exactly as mean_i max(0, 1 - e_i / c) (a fine trapezoid grid converges to it);
  the failure rate is the fraction of faces with error > c.  Menpo uses c = 0.05.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wholebody.eval.metrics_common import as_mask, as_points, empty_summary, point_errors

IBUG68_OUTER_EYE_CORNERS = (36, 45)
MENPO_CUTOFF = 0.05


@dataclass(frozen=True)
class PerImageError:
    """Per-face errors (N,) (NaN for a face with no visible landmark) and their mean."""

    per_image: np.ndarray
    mean: float


def _mean_of_images(per_image: np.ndarray, metric: str) -> PerImageError:
    valid = ~np.isnan(per_image)
    mean = float(per_image[valid].mean()) if valid.any() else empty_summary(metric, "face with visible landmarks")
    return PerImageError(per_image, mean)


def _check_normaliser(norm: np.ndarray, used: np.ndarray, metric: str, what: str) -> None:
    bad = used & ~(norm > 0)
    if bad.any():
        raise ValueError(f"{metric}: {what} must be > 0, face {int(np.argmax(bad))} has {norm[bad][0]}")


def nme_interocular(pred, gt, visible=None, eye_corners=IBUG68_OUTER_EYE_CORNERS) -> PerImageError:
    """300W NME (a fraction; x100 for %): per-face mean error / GT outer-eye-corner distance.

    ``eye_corners`` are 0-based indices into K (default 36, 45 of iBUG-68; for COCO-WholeBody
    133-point arrays slice the face first, points 23-90).  The eye corners are taken from the
    GT whatever their visibility.
    """
    pred, gt = as_points(pred, gt, (2,), "nme_interocular")
    visible = as_mask(visible, gt.shape[:2], "nme_interocular")
    left, right = eye_corners
    interocular = np.linalg.norm(gt[:, left] - gt[:, right], axis=-1)
    used = visible.any(axis=1)
    _check_normaliser(interocular, used, "nme_interocular", "inter-ocular distance")
    errors = point_errors(pred, gt, visible, "nme_interocular")
    per_image = np.full(gt.shape[0], np.nan)
    per_image[used] = np.nanmean(errors[used], axis=1) / interocular[used]
    return _mean_of_images(per_image, "nme_interocular")


def landmark_box_diagonal(gt, visible=None) -> np.ndarray:
    """Diagonal (N,) in pixels of the tight box around each face's visible GT landmarks (NaN if none)."""
    gt = np.asarray(gt, dtype=np.float64)
    visible = as_mask(visible, gt.shape[:2], "landmark_box_diagonal")
    masked = np.where(visible[..., None], gt, np.nan)
    out = np.full(gt.shape[0], np.nan)
    used = visible.any(axis=1)
    extent = np.nanmax(masked[used], axis=1) - np.nanmin(masked[used], axis=1)
    out[used] = np.hypot(extent[:, 0], extent[:, 1])
    return out


def menpo_error(pred, gt, visible=None, mode: str = "mean") -> PerImageError:
    """Menpo 3DA-2D error per face, normalised by the GT landmark-box diagonal.

    ``mode="mean"``: mean point-to-point distance / diagonal (default);
    ``mode="rms"``: sqrt(mean squared distance) / diagonal.  See the module docstring.
    """
    if mode not in ("mean", "rms"):
        raise ValueError(f"menpo_error: mode must be 'mean' or 'rms', got {mode!r}")
    pred, gt = as_points(pred, gt, (2,), "menpo_error")
    visible = as_mask(visible, gt.shape[:2], "menpo_error")
    diagonal = landmark_box_diagonal(gt, visible)
    used = visible.any(axis=1)
    _check_normaliser(diagonal, used, "menpo_error", "landmark box diagonal")
    errors = point_errors(pred, gt, visible, "menpo_error")[used]
    spread = np.nanmean(errors, axis=1) if mode == "mean" else np.sqrt(np.nanmean(errors**2, axis=1))
    per_image = np.full(gt.shape[0], np.nan)
    per_image[used] = spread / diagonal[used]
    return _mean_of_images(per_image, "menpo_error")


def ced_curve(errors, thresholds) -> np.ndarray:
    """Cumulative error distribution: for each threshold, the fraction of faces with error <= it.

    NaN errors (faces with nothing visible) are left out.
    """
    errors = np.asarray(errors, dtype=np.float64)
    errors = errors[~np.isnan(errors)]
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if errors.size == 0:
        return np.full(thresholds.shape, empty_summary("ced_curve", "face errors"))
    return (errors[None, :] <= thresholds[:, None]).mean(axis=1)


def ced_auc(errors, cutoff: float = MENPO_CUTOFF) -> tuple[float, float]:
    """Area under the CED up to ``cutoff`` divided by ``cutoff`` (in [0, 1]), and the failure rate.

    Returns ``(auc, failure_rate)``; exact area of the step curve (module docstring).
    """
    if not cutoff > 0:
        raise ValueError(f"ced_auc: cutoff must be > 0, got {cutoff}")
    errors = np.asarray(errors, dtype=np.float64)
    errors = errors[~np.isnan(errors)]
    if errors.size == 0:
        nan = empty_summary("ced_auc", "face errors")
        return nan, nan
    auc = float(np.mean(np.clip(1.0 - errors / cutoff, 0.0, 1.0)))
    return auc, float(np.mean(errors > cutoff))
