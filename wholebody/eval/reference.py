"""Run the reference evaluator, xtcocotools (optional dependency), exactly as mmpose does.

Used by the parity tests and the benchmark to check :mod:`wholebody.eval.cocoeval` against the
original: ``COCO(gt)``, ``loadRes(results)``, then one fresh ``COCOeval(gt, dt, iouType,
sigmas_slice, use_area=True)`` per part with ``params.useSegm = None`` and
``evaluate(); accumulate(); summarize()``.  xtcocotools prints a lot; that output is discarded.
"""

from __future__ import annotations

import contextlib
import copy
import io
import warnings

import numpy as np

from wholebody.schema import EVAL_PARTS, SIGMAS_BY_PART

STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


def xtcocotools_stats(gt: dict | str, results: list | str, parts=EVAL_PARTS, keep_evals: bool = False):
    """Per part, the 10 stats xtcocotools computes (dict part -> {stat name: float}).

    ``gt`` / ``results`` are file paths or already-parsed JSON (copied first: xtcocotools
    writes into the records).  With ``keep_evals`` also returns the COCOeval objects.
    """
    from xtcocotools.coco import COCO
    from xtcocotools.cocoeval import COCOeval

    sink = io.StringIO()
    stats, evals = {}, {}
    with contextlib.redirect_stdout(sink), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if isinstance(gt, dict):
            coco_gt = COCO("<memory>", ann_data=copy.deepcopy(gt))
        else:
            coco_gt = COCO(gt)
        coco_dt = coco_gt.loadRes(results if isinstance(results, str) else copy.deepcopy(results))
        for part in parts:
            iou_type = f"keypoints_{part}"
            coco_eval = COCOeval(coco_gt, coco_dt, iou_type, np.array(SIGMAS_BY_PART[part]), use_area=True)
            coco_eval.params.useSegm = None
            coco_eval.evaluate()
            coco_eval.accumulate()
            coco_eval.summarize()
            stats[part] = dict(zip(STAT_NAMES, (float(v) for v in coco_eval.stats)))
            evals[part] = coco_eval
    return (stats, evals) if keep_evals else stats
