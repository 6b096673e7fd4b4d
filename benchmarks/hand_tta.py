"""Hand expert test-time augmentation: landmark error on the RHD fixture hands, and cost per hand.

    python benchmarks/hand_tta.py [--crops 8] [--threads 2]

Each RHD hand (rendered, 320 x 320, 2D ground truth) is cropped with ``hands.points_crop`` from
its true points, then jittered (centre +-5 px, side x0.9-1.2, angle +-0.2 rad; seeded, so every
run sees the same crops) to stand in for the wrist crops of the estimator.  For every
``hand_model`` of the estimator (full, lite, both) with and without the mirrored pass it prints the mean end-point error in pixels and the milliseconds per hand (median over the crops).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from wholebody.data.adapters.rhd import load_rhd
from wholebody.experts.assemble.estimator import HAND_MODELS
from wholebody.experts.benchmark import read_rgb
from wholebody.experts.crops import SquareCrop
from wholebody.experts.landmarks.hands import HandExpert, points_crop

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
# (hand_model of the estimator, mirror) -> the HandExpert passes it stands for.
VARIANTS = {(name, mirror): (HAND_MODELS[name], mirror) for name in ("full", "lite", "both") for mirror in (False, True)}


def rhd_hands(ann_file: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(RGB image, (21, 2) true points in COCO-WholeBody hand order) per RHD hand."""
    return [(read_rgb(sample.image_path), hand.pose2d) for sample in load_rhd(ann_file)
            for hand in sample.instances if hand.part == "hand"]


def jittered_crops(points: np.ndarray, count: int, seed: int = 0) -> list[SquareCrop]:
    """``count`` perturbed ``points_crop`` crops of one hand (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    base = points_crop(points)
    crops = []
    for _ in range(count):
        centre = np.asarray(base.center) + rng.normal(0.0, 5.0, 2)
        crops.append(SquareCrop((float(centre[0]), float(centre[1])), base.side * rng.uniform(0.9, 1.2),
                                base.angle + rng.normal(0.0, 0.2), base.size))
    return crops


def evaluate(expert: HandExpert, hands: list[tuple[np.ndarray, np.ndarray]], crops: int) -> tuple[float, float]:
    """Mean end-point error (px) over all hands and crops, and median ms per hand."""
    errors, times = [], []
    for index, (image, truth) in enumerate(hands):
        for crop in jittered_crops(truth, crops, seed=index):
            start = time.perf_counter()
            hand = expert(image, crop)
            times.append(time.perf_counter() - start)
            errors.append(np.linalg.norm(hand.points - truth, axis=1).mean())
    return float(np.mean(errors)), 1000.0 * float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ann", type=Path, default=FIXTURES / "rhd" / "test_rhd.json")
    parser.add_argument("--crops", type=int, default=8, help="jittered crops per hand (default 8)")
    parser.add_argument("--threads", type=int, default=2, help="threads per model call (default 2)")
    args = parser.parse_args(argv)
    if not args.ann.is_file():
        parser.error(f"no RHD annotation file {args.ann} (the fixtures live in ../shared beside the repo; or pass --ann)")
    hands = rhd_hands(args.ann)
    print(f"{len(hands)} hands x {args.crops} crops from {args.ann}")
    print(f"{'variant':34s} {'EPE px':>7s} {'ms/hand':>8s}")
    for (name, mirrored), (models, mirror) in VARIANTS.items():
        epe, ms = evaluate(HandExpert(args.threads, models, mirror), hands, args.crops)
        label = f"{name}{' + mirror' if mirrored else ''}{' (default)' if (name, mirrored) == ('both', True) else ''}"
        print(f"{label:34s} {epe:7.2f} {ms:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
