"""Keypoint AP/AR of a results file against a COCO-style ground truth, per part.

Any supported layout: COCO-WholeBody 133 (parts body, foot, face, hands, whole body), COCO-17
and OCHuman, Halpe-136/26, CrowdPose-14 (with its easy/medium/hard AP), AI Challenger-14 and
MPII-16; the layout is read from the ground truth's person category (--layout forces it) and
results in another layout are mapped onto it (points it lacks are not scored).

Gives the same numbers as xtcocotools 1.14.3 in a fraction of the time: for COCO-WholeBody as
mmpose calls it (six COCOeval runs, each part with its slice of the 133 sigmas, maxDets 20,
person areas from the ground truth), for the other layouts one run per part with the layout's
sigmas (CrowdPose as ``keypoints_crowd``).  The results file is a COCO results list: per person
the five COCO-WholeBody blocks (``keypoints``, ``foot_kpts``, ``face_kpts``, ``lefthand_kpts``,
``righthand_kpts``; optional ``foot_score`` ... ``wholebody_score`` fields rank those parts)
or one ``keypoints`` block of a supported layout, and a ``score``.

Use --rescore / --oks-nms on raw predictions that did not go through mmpose's post-processing
(box score x mean keypoint score > 0.2; OKS-NMS at 0.9 per image).
"""

from __future__ import annotations

import argparse
import logging
import sys

from wholebody.data.errors import WholebodyError
from wholebody.schema import EVAL_PARTS
from wholebody.schema.formats import FORMATS

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ground_truth", help="COCO-style keypoint annotation JSON (e.g. coco_wholebody_val_v1.0.json, "
                        "person_keypoints_val2017.json, crowdpose_test.json)")
    parser.add_argument("results", help="results JSON: a list of per-person records")
    parser.add_argument("--json", metavar="PATH", help="also write the stats as JSON {part: {AP, AP50, ...}}")
    parser.add_argument("--full", action="store_true", help="show all 10 stats per part, not only AP and AR")
    parser.add_argument("--parts", nargs="+", default=None, metavar="PART",
                        help=f"parts to evaluate (default all of the layout's; COCO-WholeBody: {' '.join(EVAL_PARTS)})")
    parser.add_argument("--layout", default=None, metavar="NAME",
                        help=f"the ground truth's keypoint layout, instead of reading it from the file: {', '.join(FORMATS)}")
    parser.add_argument("--rescore", action="store_true",
                        help="rescore first: score x mean of keypoint scores > 0.2 over all 133 points (mmpose)")
    parser.add_argument("--oks-nms", action="store_true", help="OKS-NMS at 0.9 per image before evaluating (mmpose)")


def run(args: argparse.Namespace) -> int:
    import orjson

    from wholebody.data.atomic import atomic_write_bytes
    from wholebody.eval.cocoeval import evaluate_files

    try:
        evaluation = evaluate_files(args.ground_truth, args.results, rescore=args.rescore, oks_nms=args.oks_nms,
                                    parts=tuple(args.parts) if args.parts else None, layout=args.layout)
    except (WholebodyError, ValueError) as err:  # ValueError: an unknown --layout or --parts name
        print(f"wholebody eval: {err}", file=sys.stderr)
        return 2
    print(f"{evaluation.title} keypoints, maxDets 20 ({args.results} vs {args.ground_truth})")
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
