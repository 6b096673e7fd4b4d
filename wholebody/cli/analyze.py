"""Error diagnosis of COCO-WholeBody results (Ronchi & Perona, ICCV 2017), per part.

For each part (body, foot, face, left hand, right hand, whole body): counts keypoint errors
(jitter, inversion, swap, miss) of the results matched to a person, background false positives
and false negatives, then re-evaluates after fixing each error type cumulatively.  Writes to
--out: ``summary.json`` (counts and AP after each fix), ``pr_<part>.png`` (PR curves at
--pr-oks) and ``pr_all.png`` (all parts), and prints a table of AP at --pr-oks per step.
With the whole body among the parts it also reports the error budget of
``wholebody.eval.analysis_budget``: whole-body AP with perfect body, face or hands.

Exit status (as ``wholebody eval``): 0 on success, 2 for a usage error or an unusable input
file, 1 when an output cannot be written; errors are one ``wholebody analyze: ...`` line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import orjson

from wholebody.data.atomic import atomic_write_bytes
from wholebody.data.errors import WholebodyError
from wholebody.eval.accumulate import IOU_THRESHOLDS
from wholebody.schema import EVAL_PARTS



def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("gt", help="COCO-WholeBody ground-truth JSON")
    parser.add_argument("results", help="COCO-WholeBody results JSON (list of people)")
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--parts", nargs="+", default=None, metavar="PART",
                        help=f"parts to analyse (default all of the layout's; COCO-WholeBody: {' '.join(EVAL_PARTS)})")
    parser.add_argument("--layout", default=None, metavar="NAME",
                        help="the ground truth's keypoint layout, instead of reading it from the file (as in eval)")
    parser.add_argument("--match-oks", type=float, default=0.1,
                        help="OKS threshold of the matching that decides which person a result is (default 0.1)")
    parser.add_argument("--pr-oks", type=float, default=0.75,
                        help="OKS threshold of the PR curves, one of 0.50, 0.55, ..., 0.95 (default 0.75)")


def _table(analyses, pr_oks: float) -> str:
    from wholebody.eval.analysis_fixes import STEPS

    names = {"original": "original", "background_fp": "-bg FP", "false_negatives": "-FN"}
    head = f"{'part':<10}" + "".join(f"{names.get(s, '+' + s):>11}" for s in STEPS)
    lines = [f"AP at OKS {pr_oks:g} after each cumulative fix", head, "-" * len(head)]
    for part, analysis in analyses.items():
        lines.append(f"{part:<10}" + "".join(f"{s.ap_at_oks:11.3f}" for s in analysis.steps))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from wholebody.data.keypoint_files import load_keypoint_ground_truth, load_keypoint_results, restrict_to_scored
    from wholebody.eval.analysis_budget import wholebody_budget
    from wholebody.eval.analysis_fixes import analyze

    if not 0 < args.match_oks < 1:
        return _fail(f"--match-oks must be between 0 and 1, got {args.match_oks}", 2)
    if not np.isclose(IOU_THRESHOLDS, args.pr_oks).any():
        return _fail(f"--pr-oks must be one of {', '.join(f'{t:.2f}' for t in IOU_THRESHOLDS)}, got {args.pr_oks}", 2)
    try:
        gt = load_keypoint_ground_truth(args.gt, layout=args.layout)
        gt, res = restrict_to_scored(gt, load_keypoint_results(args.results, gt))
        parts = tuple(args.parts or gt.format.eval_parts)
        analyses = analyze(gt, res, parts=parts, match_oks=args.match_oks, pr_oks=args.pr_oks)
        # the budget's part groups are COCO-WholeBody's
        budget = wholebody_budget(gt, res, args.match_oks) if "wholebody" in parts and gt.format.num_keypoints == 133 else None
    except (WholebodyError, ValueError) as err:
        return _fail(str(err), 2)
    try:
        return _write(args, analyses, budget)
    except OSError as err:  # OutputError names the file; a plot library's OSError may not
        return _fail(str(err), 1)


def _fail(message: str, status: int) -> int:
    print(f"wholebody analyze: {message}", file=sys.stderr)
    return status


def _write(args: argparse.Namespace, analyses: dict, budget: dict | None) -> int:
    from wholebody.eval.analysis import GOOD_KS, JITTER_KS
    from wholebody.viz.pr_plots import write_overview, write_part_plot

    out = Path(args.out)
    summary = {
        "ground_truth": str(args.gt),
        "results": str(args.results),
        "match_oks": args.match_oks,
        "pr_oks": args.pr_oks,
        "ks_thresholds": {"good": GOOD_KS, "jitter": JITTER_KS},
        "parts": {part: analysis.summary() for part, analysis in analyses.items()},
    }
    if budget is not None:
        summary["wholebody_ap_with_perfect"] = budget
    atomic_write_bytes(out / "summary.json", orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    for part, analysis in analyses.items():
        write_part_plot(out / f"pr_{part}.png", analysis, part)
    write_overview(out / "pr_all.png", analyses)
    print(_table(analyses, args.pr_oks))
    if budget is not None:
        print("whole-body AP " + f"{budget['original']:.3f}; with perfect " +
              ", ".join(f"{name.removeprefix('perfect_')} {ap:.3f}" for name, ap in budget.items() if name != "original"))
    print(f"wrote {out / 'summary.json'} and {len(analyses) + 1} PNG files to {out}")
    return 0
