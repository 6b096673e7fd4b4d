"""Greedy result-to-person matching, as xtcocotools' ``COCOeval.evaluateImg`` (numba).

Work is organised in groups: one group per (category, image) pair that has ground truth or
results.  Results of a group are already sorted best score first (stable) and cut to maxDets;
ground truth keeps file order.  ``oks`` holds each group's (D, G) matrix row-major starting at
``oks_start[group]``.

Per group, area range and OKS threshold this reproduces evaluateImg exactly: a person is
"ignored" when its part is unlabelled / it is a crowd or its area is out of range; ignored
people are tried last; a result takes the best still-free person (crowds are never used up)
with OKS >= threshold, later people winning ties; it stops scanning at the first ignored person
once it holds a regular one; a result matched to an ignored person is ignored; an unmatched
result whose own area is out of range is ignored.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def enumerate_pairs(dt_start, dt_count, gt_start, gt_count, dt_index, gt_index):
    """(pair_dt, pair_gt, oks_start): each group's D x G pairs, row-major, as original indices."""
    n_groups = dt_start.shape[0]
    oks_start = np.empty(n_groups, np.int64)
    total = 0
    for grp in range(n_groups):
        oks_start[grp] = total
        total += dt_count[grp] * gt_count[grp]
    pair_dt = np.empty(total, np.int64)
    pair_gt = np.empty(total, np.int64)
    pos = 0
    for grp in range(n_groups):
        for i in range(dt_count[grp]):
            for j in range(gt_count[grp]):
                pair_dt[pos] = dt_index[dt_start[grp] + i]
                pair_gt[pos] = gt_index[gt_start[grp] + j]
                pos += 1
    return pair_dt, pair_gt, oks_start


@njit(cache=True)
def match_groups(
    dt_start, dt_count, gt_start, gt_count, oks, oks_start,
    gt_ignore, gt_area, gt_crowd, gt_id_nonneg, dt_area, thresholds, area_ranges,
):
    """Match every group at every area range and threshold.

    Ground-truth arrays are in group order (index ``gt_start[g] + j``), result arrays too.
    Returns ``dt_matched`` (A, T, D) (xtcocotools' ``dtMatches >= 0``: matched to a person whose
    id is not negative), ``dt_ignored`` (A, T, D) and ``gt_ignored`` (A, G) booleans.
    """
    n_areas, n_thr = area_ranges.shape[0], thresholds.shape[0]
    n_dt, n_gt = dt_area.shape[0], gt_area.shape[0]
    dt_matched = np.zeros((n_areas, n_thr, n_dt), np.bool_)
    dt_ignored = np.zeros((n_areas, n_thr, n_dt), np.bool_)
    gt_ignored = np.zeros((n_areas, n_gt), np.bool_)
    for grp in range(dt_start.shape[0]):
        d0, nd, g0, ng = dt_start[grp], dt_count[grp], gt_start[grp], gt_count[grp]
        order = np.empty(ng, np.int64)
        taken = np.zeros(ng, np.bool_)
        for a in range(n_areas):
            lo, hi = area_ranges[a, 0], area_ranges[a, 1]
            ignored = np.empty(ng, np.bool_)
            for j in range(ng):
                ignored[j] = gt_ignore[g0 + j] or gt_area[g0 + j] < lo or gt_area[g0 + j] > hi
                gt_ignored[a, g0 + j] = ignored[j]
            n = 0  # stable: regular people first, ignored ones after, each in file order
            for j in range(ng):
                if not ignored[j]:
                    order[n] = j
                    n += 1
            for j in range(ng):
                if ignored[j]:
                    order[n] = j
                    n += 1
            for t in range(n_thr):
                taken[:] = False
                for i in range(nd):
                    best = min(thresholds[t], 1 - 1e-10)
                    m = -1
                    if ng > 0:
                        row = oks_start[grp] + i * ng
                        for jj in range(ng):
                            j = order[jj]
                            if taken[j] and not gt_crowd[g0 + j]:
                                continue
                            if m > -1 and not ignored[m] and ignored[j]:
                                break
                            if oks[row + j] < best:
                                continue
                            best = oks[row + j]
                            m = j
                    if m > -1:
                        dt_ignored[a, t, d0 + i] = ignored[m]
                        dt_matched[a, t, d0 + i] = gt_id_nonneg[g0 + m]
                        taken[m] = True
                    out_of_range = dt_area[d0 + i] < lo or dt_area[d0 + i] > hi
                    if not dt_matched[a, t, d0 + i] and out_of_range:
                        dt_ignored[a, t, d0 + i] = True
    return dt_matched, dt_ignored, gt_ignored
