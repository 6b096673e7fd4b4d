"""Object keypoint similarity (OKS), bit-for-bit as xtcocotools' ``COCOeval.computeOks``.

For a result d and a ground-truth person g over the K points of one part::

    e_k = (dx_k**2 + dy_k**2) / (2 sigma_k)**2 / (A_g + eps) / 2      (dx, dy in image pixels)
    OKS = mean of exp(-e_k) over the points g labels (v > 0)

``A_g`` is the person's ``area`` (pixels^2) and ``eps = np.spacing(1)``.  A ground truth with
no labelled point in the part (only possible for ignored ones) is compared instead with the
box ``[x - w, y - h, x + 2w, y + 2h]``: dx_k is the distance of result point k outside it, and
the mean runs over all K points.

To be bit-identical to the reference, the arithmetic is done in the same order, ``exp`` is
numpy's own (it differs from libm's in the last bit on AVX-512 machines), and the sum over
points copies numpy's pairwise summation.  The work is split so that one numpy ``exp`` call
covers many (result, person) pairs at once.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Values per numpy exp call: bounds the scratch buffer to 32 MB.
_CHUNK_VALUES = 4_000_000
_EPS = np.spacing(1)


@njit(cache=True)
def _pairwise_sum(values, start, count):
    """numpy's float64 pairwise summation of ``values[start:start + count]`` (same rounding)."""
    if count < 8:
        total = 0.0
        for i in range(count):
            total += values[start + i]
        return total
    if count <= 128:
        r = values[start:start + 8].copy()
        i = 8
        stop = count - count % 8
        while i < stop:
            for j in range(8):
                r[j] += values[start + i + j]
            i += 8
        total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < count:
            total += values[start + i]
            i += 1
        return total
    half = count // 2
    half -= half % 8
    return _pairwise_sum(values, start, half) + _pairwise_sum(values, start + half, count - half)


@njit(cache=True)
def _fill_minus_e(dt_kpts, gt_kpts, gt_denom, gt_bbox, variances, k_start, pair_dt, pair_gt, n_labelled, seg_start, out):
    """Write -e_k of every pair into ``out`` at ``seg_start[p]``: labelled points only, or all K."""
    n_points = variances.shape[0]
    for p in range(pair_dt.shape[0]):
        d, g = pair_dt[p], pair_gt[p]
        pos = seg_start[p]
        if n_labelled[g] > 0:
            for k in range(n_points):
                if gt_kpts[g, k_start + k, 2] > 0:
                    dx = dt_kpts[d, k_start + k, 0] - gt_kpts[g, k_start + k, 0]
                    dy = dt_kpts[d, k_start + k, 1] - gt_kpts[g, k_start + k, 1]
                    out[pos] = -((dx * dx + dy * dy) / variances[k] / gt_denom[g] / 2)
                    pos += 1
        else:
            x, y, w, h = gt_bbox[g, 0], gt_bbox[g, 1], gt_bbox[g, 2], gt_bbox[g, 3]
            x0, x1, y0, y1 = x - w, x + w * 2, y - h, y + h * 2
            for k in range(n_points):
                xd = dt_kpts[d, k_start + k, 0]
                yd = dt_kpts[d, k_start + k, 1]
                dx = max(0.0, x0 - xd) + max(0.0, xd - x1)
                dy = max(0.0, y0 - yd) + max(0.0, yd - y1)
                out[pos] = -((dx * dx + dy * dy) / variances[k] / gt_denom[g] / 2)
                pos += 1


@njit(cache=True)
def _segment_means(values, seg_start, seg_len, out):
    for p in range(seg_len.shape[0]):
        out[p] = _pairwise_sum(values, seg_start[p], seg_len[p]) / seg_len[p]


def labelled_counts(gt_kpts: np.ndarray, part: slice) -> np.ndarray:
    """(G,) int64: points with visibility > 0 in ``part`` of each ground truth."""
    return np.count_nonzero(gt_kpts[:, part, 2] > 0, axis=1).astype(np.int64)


def oks_for_pairs(
    dt_kpts: np.ndarray,
    gt_kpts: np.ndarray,
    gt_area: np.ndarray,
    gt_bbox: np.ndarray,
    sigmas: np.ndarray,
    part: slice,
    pair_dt: np.ndarray,
    pair_gt: np.ndarray,
    n_labelled: np.ndarray | None = None,
) -> np.ndarray:
    """OKS of the pairs ``(dt_kpts[pair_dt[p]], gt_kpts[pair_gt[p]])`` over the points ``part``.

    ``dt_kpts`` (M, K_all, 3) and ``gt_kpts`` (G, K_all, 3) are float64 pixel coordinates with
    the score / visibility third; ``sigmas`` has one value per point of ``part``;
    ``gt_area`` (G,) is the area used for normalisation (pixels^2).
    """
    dt_kpts = np.ascontiguousarray(dt_kpts, dtype=np.float64)
    gt_kpts = np.ascontiguousarray(gt_kpts, dtype=np.float64)
    gt_bbox = np.ascontiguousarray(gt_bbox, dtype=np.float64)
    variances = (np.asarray(sigmas, dtype=np.float64) * 2) ** 2
    gt_denom = np.asarray(gt_area, dtype=np.float64) + _EPS
    pair_dt = np.asarray(pair_dt, dtype=np.int64)
    pair_gt = np.asarray(pair_gt, dtype=np.int64)
    if n_labelled is None:
        n_labelled = labelled_counts(gt_kpts, part)
    k_start = part.start or 0
    seg_len = np.where(n_labelled[pair_gt] > 0, n_labelled[pair_gt], len(variances)).astype(np.int64)
    ends = np.cumsum(seg_len)
    oks = np.empty(len(pair_dt))
    first = 0
    while first < len(pair_dt):
        # Largest run of pairs whose values fit the scratch budget (at least one pair).
        base = ends[first - 1] if first else 0
        last = max(int(np.searchsorted(ends, base + _CHUNK_VALUES, side="right")), first + 1)
        lengths = seg_len[first:last]
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
        buffer = np.empty(int(lengths.sum()))
        _fill_minus_e(dt_kpts, gt_kpts, gt_denom, gt_bbox, variances, k_start,
                      pair_dt[first:last], pair_gt[first:last], n_labelled, starts, buffer)
        np.exp(buffer, out=buffer)
        _segment_means(buffer, starts, lengths, oks[first:last])
        first = last
    return oks


def compute_oks(dt_kpts, gt_kpts, gt_area, gt_bbox, sigmas) -> np.ndarray:
    """(D, G) OKS of every result against every ground truth of one image and part.

    ``dt_kpts`` (D, K, 3) results (third value unused), ``gt_kpts`` (G, K, 3) ground truth
    (third value = visibility, v > 0 labelled), ``gt_area`` (G,) person areas in pixels^2,
    ``gt_bbox`` (G, 4) xywh pixels, ``sigmas`` (K,).  Same values as xtcocotools' computeOks
    (with use_area=True), including the box fallback for a ground truth without labels.
    """
    dt_kpts = np.asarray(dt_kpts, dtype=np.float64)
    gt_kpts = np.asarray(gt_kpts, dtype=np.float64)
    n_dt, n_gt = len(dt_kpts), len(gt_kpts)
    if n_dt == 0 or n_gt == 0:
        return np.zeros((n_dt, n_gt))
    pair_dt = np.repeat(np.arange(n_dt), n_gt)
    pair_gt = np.tile(np.arange(n_gt), n_dt)
    part = slice(0, gt_kpts.shape[1])
    oks = oks_for_pairs(dt_kpts, gt_kpts, gt_area, gt_bbox, sigmas, part, pair_dt, pair_gt)
    return oks.reshape(n_dt, n_gt)
