"""DOPE post-processing speed: pose NMS and PPI on one network output (~1,000 proposals).

The output is that of ``benchmarks/dope_speed.py``'s full mode (ResNet-50 DOPE, random
weights, a random 640x480 image) on ``--device``; ``--anchors centre`` puts every anchor pose's
joints at the box centre (all classes alike, long suppression chains), ``spread`` scatters them
over the box (poses differ per class, as after training).  Reported: the median over
``--repeats`` of post-processing every part of the output once (``detect_parts``), in ms.

``--baseline`` also times the numpy NMS it replaced (every output copied to the host, NMS there;
the frozen copy ``tests/dope_nms_numpy_reference.py``) on the same output, and the ratio.
``--reference`` times the per-candidate loops from before vectorising
(``tests/dope_post_reference.py``).

Usage: ``python benchmarks/dope_post_speed.py [--device cuda] [--anchors spread] [--baseline] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from wholebody.models.dope.layout import PART_NAMES
from wholebody.models.dope.network import dope_resnet50
from wholebody.models.dope.post import detect_parts

TESTS = Path(__file__).resolve().parents[1] / "tests"


def network_output(anchors: str, device: torch.device) -> tuple[dict[str, torch.Tensor], int]:
    """One full-mode output of a random-weight DOPE (tensors on ``device``) and its hand classes per side."""
    torch.manual_seed(0)
    model = dope_resnet50().eval().to(device)
    for part in PART_NAMES:
        k, j = model.anchor_poses(part).shape[:2]
        if anchors == "centre":
            poses = torch.cat([torch.full((k, j, 2), 0.5), torch.zeros((k, j, 3))], -1)
        else:
            poses = torch.rand(k, j, 5) * torch.tensor([1, 1, 0.3, 0.3, 0.3])
        model.set_anchor_poses(part, poses)
    with torch.no_grad():
        out = model([torch.rand(3, 480, 640, device=device)])[0]
    return out, model.hand_classes_per_side


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_ms(fns: dict, repeats: int, device: torch.device) -> dict[str, float]:
    """Median ms of each of ``fns`` (name -> callable), taking turns so that a busy machine slows
    them alike (one warm-up call each first)."""
    times = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            _sync(device)
            tic = time.perf_counter()
            fn()
            _sync(device)
            times[name].append(time.perf_counter() - tic)
    return {name: round(1000 * float(np.median(t)), 2) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--anchors", choices=("centre", "spread"), default="centre")
    parser.add_argument("--baseline", action="store_true", help="also time the numpy NMS it replaced, and the ratio")
    parser.add_argument("--reference", action="store_true", help="also time the loops before vectorising")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    out, sides = network_output(args.anchors, device)
    report = {"device": str(device), "anchors": args.anchors, "proposals": int(len(out["boxes"])),
              "threads": args.threads,
              "detections_nms": {p: len(d) for p, d in detect_parts(out, PART_NAMES, sides, "nms").items()}}
    fns = {"nms": lambda: detect_parts(out, PART_NAMES, sides, "nms"),
           "ppi": lambda: detect_parts(out, PART_NAMES, sides, "ppi")}
    sys.path.insert(0, str(TESTS))
    if args.baseline:
        import dope_nms_numpy_reference as numpy_reference

        fns["baseline_nms"] = lambda: numpy_reference.detect_parts_nms(out, PART_NAMES, sides)
    if args.reference:
        import dope_post_reference as reference

        arrays = {part: [out[k].float().cpu().numpy() for k in ("boxes", f"{part}_scores", f"{part}_pose2d",
                                                                f"{part}_pose3d")] for part in PART_NAMES}

        def loops(run):
            return lambda: [run(part, *arrays[part], **({"hand_classes_per_side": sides} if part == "hand" else {}))
                            for part in PART_NAMES]

        fns["reference_nms"], fns["reference_ppi"] = loops(reference.pose_nms), loops(reference.ppi)
    report |= {f"{name}_ms": ms for name, ms in time_ms(fns, args.repeats, device).items()}
    if args.baseline:
        report["nms_speedup"] = round(report["baseline_nms_ms"] / report["nms_ms"], 2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
