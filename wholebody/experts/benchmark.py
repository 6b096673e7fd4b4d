"""Accuracy and speed of the part-expert estimator on a COCO-WholeBody annotation file.

``python -m wholebody.experts.benchmark ANN.json IMAGE_DIR [--gt-boxes] [--speed]`` (options:
``--body-model full``, ``--hand-model full|lite``, ``--no-hand-mirror``, ``--threads N``,
``--repeats N``) prints the AP/AR table (the project's evaluator, identical to xtcocotools) and,
with ``--speed``, the wall-clock and CPU milliseconds per image of the full pipeline (detector +
experts) and of MediaPipe Holistic on the same images resized to 640 x 480, by the number of
people found.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def read_rgb(path: Path) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB."""
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise OSError(f"cannot read image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def predict_annotation_file(estimator, ann_file: Path, image_dir: Path, gt_boxes: bool) -> list[dict]:
    """COCO-WholeBody results for every image of ``ann_file`` (GT person boxes if ``gt_boxes``)."""
    from wholebody.data.results import person_to_result

    data = json.loads(Path(ann_file).read_text())
    results = []
    for image in data["images"]:
        rgb = read_rgb(Path(image_dir) / image["file_name"])
        boxes = None
        if gt_boxes:
            boxes = np.array([a["bbox"] for a in data["annotations"] if a["image_id"] == image["id"]]).reshape(-1, 4)
        for person in estimator(rgb, person_boxes=boxes):
            results.append(person_to_result(person, image["id"]))
    return results


def evaluate_results(ann_file: Path, results: list[dict]):
    """``wholebody.eval`` statistics of ``results`` against ``ann_file``."""
    from wholebody.eval.cocoeval import evaluate_files

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "results.json"
        path.write_text(json.dumps(results))
        return evaluate_files(str(ann_file), str(path))


def time_call(fn, repeats: int) -> tuple[float, float]:
    """Median wall-clock and process-CPU milliseconds of ``fn()`` over ``repeats`` runs (after a warm-up).

    On a shared machine the CPU time is the better estimate of the uncontended single-thread cost.
    """
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000.0)
        cpu.append((time.process_time() - start_cpu) * 1000.0)
    return float(np.median(wall)), float(np.median(cpu))


def speed_table(estimator, images: list[np.ndarray], repeats: int = 5, holistic: bool = True) -> list[dict]:
    """Per image (resized to 640 x 480): people found, wall / CPU ms of our pipeline and of Holistic."""
    import cv2

    rows = []
    solution = None
    if holistic:
        import mediapipe as mp

        # model_complexity=1 is the only pose model bundled in the wheel (0 and 2 download).
        solution = mp.solutions.holistic.Holistic(static_image_mode=True, model_complexity=1)
    for rgb in images:
        rgb = np.ascontiguousarray(cv2.resize(rgb, (640, 480), interpolation=cv2.INTER_AREA))
        people = estimator(rgb)
        row = dict(zip(("ms", "cpu_ms"), time_call(lambda: estimator(rgb), repeats)), people=len(people))
        if solution is not None:
            row.update(zip(("holistic_ms", "holistic_cpu_ms"), time_call(lambda: solution.process(rgb), repeats)))
        rows.append(row)
    if solution is not None:
        solution.close()
    return sorted(rows, key=lambda r: r["people"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ann_file", type=Path)
    parser.add_argument("image_dir", type=Path)
    parser.add_argument("--gt-boxes", action="store_true", help="use the annotated person boxes instead of the detector")
    parser.add_argument("--speed", action="store_true", help="also time the pipeline and Holistic at 640x480")
    parser.add_argument("--face", default="mesh", choices=["mesh", "dlib"])
    parser.add_argument("--body-model", default="heavy", choices=["heavy", "full"])
    parser.add_argument("--hand-model", default="both", choices=["both", "full", "lite"])
    parser.add_argument("--no-hand-mirror", action="store_true", help="no flip test of the hand models")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per image; the median is shown (default 15)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads per model call (default: the machine's cores, at most 4)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    from wholebody.experts import WholeBodyEstimator

    estimator = WholeBodyEstimator(face=args.face, num_threads=args.threads, body_model=args.body_model,
                                   hand_model=args.hand_model, hand_mirror=not args.no_hand_mirror)
    results = predict_annotation_file(estimator, args.ann_file, args.image_dir, args.gt_boxes)
    print(evaluate_results(args.ann_file, results).table())
    if args.speed:
        data = json.loads(args.ann_file.read_text())
        images = [read_rgb(args.image_dir / image["file_name"]) for image in data["images"]]
        for row in speed_table(estimator, images, repeats=args.repeats):
            print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
