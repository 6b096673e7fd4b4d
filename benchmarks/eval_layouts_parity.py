"""Evaluator parity per keypoint layout against xtcocotools 1.14.3 on seeded synthetic sets.

    OMP_NUM_THREADS=1 python benchmarks/eval_layouts_parity.py [--images 200] [--seeds 3]

For each layout (COCO-17, CrowdPose-14, AIC-14, MPII-16, Halpe-26, Halpe-136) a COCO-WholeBody
synthetic set (wholebody.eval.synthetic) is converted to the layout (synthetic_layouts), written
to JSON and scored by ``wholebody.eval.cocoeval.evaluate_files`` and by xtcocotools'
``COCOeval(..., 'keypoints' or 'keypoints_crowd', sigmas, use_area)`` with the layout's values.
Prints the largest difference over the 10 stats (9 for CrowdPose, whose easy/medium/hard AP the
reference rounds to 4 decimals and is shown apart).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import tempfile
from pathlib import Path

import numpy as np

STATS = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
CROWD_STATS = ("AP", "AP50", "AP75", "AR", "AR50", "AR75", "APeasy", "APmedium", "APhard")


def _reference(gt_path, res_path, fmt) -> np.ndarray:
    from xtcocotools.coco import COCO
    from xtcocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        ev = COCOeval(gt, gt.loadRes(str(res_path)), "keypoints_crowd" if fmt.crowd_index else "keypoints",
                      sigmas=fmt.sigmas, use_area=fmt.use_area)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats)


def main() -> None:
    from wholebody.eval.cocoeval import evaluate_files
    from wholebody.eval.synthetic import SyntheticSpec, make_synthetic
    from wholebody.eval.synthetic_layouts import to_layout
    from wholebody.schema.formats import FORMATS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    for name in ("coco17", "crowdpose14", "aic14", "mpii16", "halpe26", "halpe136"):
        fmt = FORMATS[name]
        worst, worst_crowd = 0.0, 0.0
        for seed in range(args.seeds):
            gt, results = to_layout(*make_synthetic(seed, SyntheticSpec(n_images=args.images)), fmt, seed=seed)
            with tempfile.TemporaryDirectory() as folder:
                gt_path, res_path = Path(folder) / "gt.json", Path(folder) / "res.json"
                gt_path.write_text(json.dumps(gt))
                res_path.write_text(json.dumps(results))
                reference = _reference(gt_path, res_path, fmt)
                stats = evaluate_files(gt_path, res_path).stats["wholebody" if "wholebody" in fmt.eval_parts else "body"]
            ours = np.array([stats[k] for k in (CROWD_STATS if fmt.crowd_index else STATS)])
            diff = np.abs(ours - reference)
            worst = max(worst, float(diff[:6].max() if fmt.crowd_index else diff.max()))
            worst_crowd = max(worst_crowd, float(diff[6:].max())) if fmt.crowd_index else 0.0
        crowd = f", easy/medium/hard {worst_crowd:.1e} (reference rounds to 4 decimals)" if fmt.crowd_index else ""
        print(f"{fmt.title:24s} {args.seeds} seeds x {args.images} images: max |diff| {worst:.1e}{crowd}")


if __name__ == "__main__":
    main()
