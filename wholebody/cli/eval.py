"""COCO-WholeBody AP/AR of a results file, per part: body, foot, face, hands, whole body.

Gives the same numbers as mmpose / xtcocotools 1.14.3 (six COCOeval runs, each part with its
slice of the 133 sigmas, maxDets 20, person areas from the ground truth), in a fraction of the
time.  The results file is a COCO results list with the five keypoint blocks per person
(``keypoints``, ``foot_kpts``, ``face_kpts``, ``lefthand_kpts``, ``righthand_kpts``) and a
``score``; optional ``foot_score`` ... ``wholebody_score`` fields rank those parts instead.

Use --rescore / --oks-nms on raw predictions that did not go through mmpose's post-processing
(box score x mean keypoint score > 0.2; OKS-NMS at 0.9 per image).
"""

from __future__ import annotations

import argparse
import logging
import sys

from wholebody.data.errors import WholebodyError
from wholebody.schema import EVAL_PARTS

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ground_truth", help="COCO-WholeBody annotation JSON (e.g. coco_wholebody_val_v1.0.json)")
    parser.add_argument("results", help="results JSON: a list of per-person records")
    parser.add_argument("--json", metavar="PATH", help="also write the stats as JSON {part: {AP, AP50, ...}}")
    parser.add_argument("--full", action="store_true", help="show all 10 stats per part, not only AP and AR")
    parser.add_argument("--parts", nargs="+", choices=EVAL_PARTS, default=list(EVAL_PARTS), help="parts to evaluate")
    parser.add_argument("--rescore", action="store_true",
                        help="rescore first: score x mean of keypoint scores > 0.2 over all 133 points (mmpose)")
    parser.add_argument("--oks-nms", action="store_true", help="OKS-NMS at 0.9 per image before evaluating (mmpose)")


def run(args: argparse.Namespace) -> int:
    import orjson

    from wholebody.data.atomic import atomic_write_bytes
    from wholebody.eval.cocoeval import evaluate_files

    try:
        evaluation = evaluate_files(args.ground_truth, args.results, rescore=args.rescore,
                                    oks_nms=args.oks_nms, parts=tuple(args.parts))
    except WholebodyError as err:
        print(f"wholebody eval: {err}", file=sys.stderr)
        return 2
    print(f"COCO-WholeBody keypoints, maxDets 20 ({args.results} vs {args.ground_truth})")
    print(evaluation.table(full=args.full))
    if args.json:
        try:
            atomic_write_bytes(args.json, orjson.dumps(evaluation.stats, option=orjson.OPT_INDENT_2) + b"\n")
        except OSError as err:  # OutputError: "PATH: no space left on device" ...
            print(f"wholebody eval: {err if isinstance(err, WholebodyError) else f'{args.json}: {err}'}",
                  file=sys.stderr)
            return 1
        log.info("stats written to %s", args.json)
    return 0
