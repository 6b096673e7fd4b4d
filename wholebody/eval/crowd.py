"""CrowdPose's AP per crowd-index class (easy / medium / hard), as crowdposetools computes it.

CrowdPose images carry ``crowdIndex`` (0..1, how much people overlap).  crowdposetools'
``summarize`` (and xtcocotools' ``keypoints_crowd``) splits the images with thresholds 0.2 and
0.8 (easy < 0.2 <= medium < 0.8 <= hard; the paper's text says 0.1, the code 0.2), evaluates
each subset alone and reports the plain mean of its precision array over all IoU thresholds,
recall thresholds and categories for the "all" area range.  That mean includes -1 entries
(a subset with no regular person reads -1), as the reference does.

Differences from crowdposetools, all measured against xtcocotools' ``keypoints_crowd`` in
tests/test_evalformats.py: (1) the reference rounds these three values to 4 decimals; here
they are not rounded (agreement within 5e-5).  (2) crowdposetools' stats array has 11 slots
with APm/APl left 0; here APm/APl/ARm/ARl are given too, from box w*h*0.53 areas.  (3) As
xtcocotools, a result whose keypoint scores are all 0 is not evaluated; crowdposetools keeps it.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

CROWD_CLASSES = {"APeasy": (-np.inf, 0.2), "APmedium": (0.2, 0.8), "APhard": (0.8, np.inf)}
CROWD_STAT_NAMES = tuple(CROWD_CLASSES)


def crowd_classes(gt) -> dict[str, np.ndarray] | None:
    """Sorted image ids per crowd-index class; None (with a warning) if an image has no index."""
    ids = np.fromiter(gt.images.keys(), dtype=np.int64, count=len(gt.images))
    index = np.array([gt.images[int(i)].get("crowdIndex", np.nan) for i in ids], dtype=np.float64)
    if np.isnan(index).any():
        missing = int(ids[np.isnan(index)][0])
        log.warning("%s: image %d has no 'crowdIndex'; no easy/medium/hard AP", getattr(gt, "path", "ground truth"), missing)
        return None
    return {name: np.sort(ids[(index >= lo) & (index < hi)]) for name, (lo, hi) in CROWD_CLASSES.items()}


def crowd_index_stats(gt, res, part: str, prepare, evaluate_part) -> dict[str, float]:
    """AP of ``part`` on each crowd-index class of images (empty dict without crowd indices).

    ``prepare`` / ``evaluate_part`` are the evaluator's own steps (passed in to keep the
    import one-way), so a subset is scored exactly as the full set is.
    """
    classes = crowd_classes(gt)
    if classes is None:
        return {}
    stats = {}
    for name, images in classes.items():
        precision, _ = evaluate_part(prepare(gt, res, images=images), gt, res, part)
        stats[name] = float(np.mean(precision[:, :, :, 0, :]))
    return stats
