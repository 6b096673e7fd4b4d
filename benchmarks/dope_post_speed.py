"""DOPE post-processing speed: pose NMS and PPI on one network output (~1,000 proposals), CPU.

The output is that of ``benchmarks/dope_speed.py``'s full mode (ResNet-50 DOPE, random
weights, anchor poses at the box centre, a random 640x480 image); the median over ``--repeats``
of running every part once is reported in ms.  ``--reference`` also times the
per-candidate loops as they were before vectorising (the frozen copy that the equality tests
use, ``tests/dope_post_reference.py``) on the same output.

Usage: ``python benchmarks/dope_post_speed.py [--repeats 5] [--reference]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from wholebody.models.dope import post as dope_post
from wholebody.models.dope.network import dope_resnet50
from wholebody.models.dope.layout import PART_NAMES

TESTS = Path(__file__).resolve().parents[1] / "tests"


def network_output() -> tuple[dict[str, np.ndarray], int]:
    """One full-mode output of a random-weight DOPE, as the arrays ``detect_parts`` passes on."""
    torch.manual_seed(0)
    model = dope_resnet50().eval()
    for part in PART_NAMES:
        anchors = model.anchor_poses(part)
        model.set_anchor_poses(part, torch.cat([torch.full((*anchors.shape[:2], 2), 0.5),
                                                torch.zeros((*anchors.shape[:2], 3))], -1))
    with torch.no_grad():
        out = model([torch.rand(3, 480, 640)])[0]
    arrays = {part: [out[k].float().numpy() for k in ("boxes", f"{part}_scores", f"{part}_pose2d", f"{part}_pose3d")]
              for part in PART_NAMES}
    return arrays, model.hand_classes_per_side


def time_method(run, arrays: dict, hand_classes_per_side: int, repeats: int) -> float:
    """Median ms of running ``run`` on every part once."""
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        for part in PART_NAMES:
            run(part, *arrays[part], **({"hand_classes_per_side": hand_classes_per_side} if part == "hand" else {}))
        times.append(time.perf_counter() - tic)
    return round(1000 * float(np.median(times)), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--reference", action="store_true", help="also time the loops before vectorising")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    arrays, sides = network_output()
    report = {"proposals": int(len(arrays["body"][0])), "threads": args.threads,
              "nms_ms": time_method(dope_post.pose_nms, arrays, sides, args.repeats),
              "ppi_ms": time_method(dope_post.ppi, arrays, sides, args.repeats)}
    if args.reference:
        sys.path.insert(0, str(TESTS))
        import dope_post_reference as reference

        report["reference_nms_ms"] = time_method(reference.pose_nms, arrays, sides, args.repeats)
        report["reference_ppi_ms"] = time_method(reference.ppi, arrays, sides, args.repeats)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
