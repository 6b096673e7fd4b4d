"""Hand expert test-time augmentation: landmark error on the RHD fixture hands, and cost per hand.

    python benchmarks/hand_tta.py [--crops 8] [--threads 2]

Each RHD hand (rendered, 320 x 320, 2D ground truth) is cropped with ``hands.points_crop`` from
its true points, then jittered (centre +-5 px, side x0.9-1.2, angle +-0.2 rad; seeded, so every
run sees the same crops) to stand in for the wrist crops of the estimator.  For every
combination of the bundled landmark models (full, lite) with and without the mirrored pass it
prints the mean end-point error in pixels and the milliseconds per hand (median over the crops).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from wholebody.data.adapters.rhd import RHD21
from wholebody.data.adapters.sample import read_json_object
from wholebody.experts.benchmark import read_rgb
from wholebody.experts.crops import SquareCrop
from wholebody.experts.hands import HandExpert, points_crop

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
VARIANTS = {
    "full": (("hand_landmark_full",), False),
    "full + mirror": (("hand_landmark_full",), True),
    "lite": (("hand_landmark_lite",), False),
    "lite + mirror": (("hand_landmark_lite",), True),
    "full + lite": (("hand_landmark_full", "hand_landmark_lite"), False),
    "full + lite + mirror (default)": (("hand_landmark_full", "hand_landmark_lite"), True),
}


def rhd_hands(ann_file: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(RGB image, (21, 2) true points in COCO-WholeBody hand order) per RHD annotation."""
    data = read_json_object(ann_file)
    files = {image["id"]: image["file_name"] for image in data["images"]}
    to_hand = np.asarray(RHD21.to_wholebody) - RHD21.to_wholebody[0]  # RHD joint -> COCO hand index
    hands = []
    for ann in data["annotations"]:
        points = np.zeros((21, 2))
        points[to_hand] = np.asarray(ann["keypoints"], float).reshape(21, 3)[:, :2]
        hands.append((read_rgb(ann_file.parent / files[ann["image_id"]]), points))
    return hands


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
    hands = rhd_hands(args.ann)
    print(f"{len(hands)} hands x {args.crops} crops from {args.ann}")
    print(f"{'variant':34s} {'EPE px':>7s} {'ms/hand':>8s}")
    for name, (models, mirror) in VARIANTS.items():
        epe, ms = evaluate(HandExpert(args.threads, models, mirror), hands, args.crops)
        print(f"{name:34s} {epe:7.2f} {ms:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
