"""Person-detector recall on the fixture people and speed at 640x480 (wholebody.experts.detect.person_detector).

    OMP_NUM_THREADS=1 python benchmarks/person_detector.py [--threads 1 2] [--runs 20]

Recall: COCO-WholeBody fixture people with num_keypoints > 0 matched (IoU >= 0.5, greedy in
score order) by a detection.  "extra": detections matching no such person.  Reference: the
mmpose AP_H_56 person detections with score > 0.5 for the same 4 images.  Speed: min and median
ms per call on a 640x480 frame (one fixture image resized), models prepared with
`wholebody models prepare`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from wholebody.experts.detect.boxes import iou_xywh
from wholebody.experts.detect.person_detector import CenterNetDetector, MoveNetDetector

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


def match(truth: np.ndarray, found: np.ndarray, threshold: float = 0.5) -> int:
    """Number of ``truth`` boxes matched one-to-one by ``found`` (given best score first)."""
    if len(truth) == 0 or len(found) == 0:
        return 0
    iou, used = iou_xywh(found, truth), set()
    for row in iou:
        free = [j for j in np.argsort(-row) if row[j] >= threshold and j not in used]
        if free:
            used.add(free[0])
    return len(used)


def load_fixtures():
    gt = json.loads((FIXTURES / "coco_wholebody" / "test_coco_wholebody.json").read_text())
    ref = json.loads((FIXTURES / "coco" / "test_coco_det_AP_H_56.json").read_text())
    items = []
    for image in gt["images"]:
        people = [a["bbox"] for a in gt["annotations"] if a["image_id"] == image["id"] and a["num_keypoints"] > 0]
        reference = [d["bbox"] for d in ref if d["image_id"] == image["id"] and d["score"] > 0.5]
        pixels = np.asarray(Image.open(FIXTURES / "coco_wholebody" / image["file_name"]).convert("RGB"))
        items.append((pixels, np.array(people, float), np.array(reference, float)))
    return items


def evaluate(detector, items) -> dict:
    totals = dict(gt=0, hit=0, extra=0, ref=0, ref_hit=0)
    for pixels, people, reference in items:
        found = detector(pixels).boxes
        hit = match(people, found)
        totals["gt"] += len(people)
        totals["hit"] += hit
        totals["extra"] += len(found) - hit
        totals["ref"] += len(reference)
        totals["ref_hit"] += match(reference, found)
    return totals


def time_ms(detector, image: np.ndarray, runs: int) -> tuple[float, float, float]:
    """Wall-clock min and median, and median process CPU time, in ms per call.

    On a shared machine the wall-clock median is inflated by other processes; the minimum and,
    for one thread, the CPU time are the better estimates of the detector's own cost.
    """
    detector(image)
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        detector(image)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return 1000 * min(wall), 1000 * float(np.median(wall)), 1000 * float(np.median(cpu))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--only", nargs="*", help="substrings of configuration names to run")
    args = parser.parse_args()
    items = load_fixtures()
    frame = np.asarray(Image.fromarray(items[2][0]).resize((640, 480)))  # a 640x480 multi-person frame
    configs = {}
    for backend in ("onnx", "torch"):  # prepare exports ONNX for the default MoveNet size only
        for size in (256,) if backend == "onnx" else (192, 256, 320):
            configs[f"movenet-{size}-{backend}"] = lambda s=size, b=backend: MoveNetDetector(input_size=s, backend=b)
        configs[f"centernet-512-{backend}"] = lambda b=backend: CenterNetDetector(backend=b)
    print("detector            recall  extra  AP_H_56>0.5  "
          + "  ".join(f"{t}thr ms: min / median / cpu" for t in args.threads))
    for name, build in configs.items():
        if args.only and not any(s in name for s in args.only):
            continue
        try:
            detector = build()
            r = evaluate(detector, items)
        except FileNotFoundError as err:  # e.g. no ONNX file for a non-default size
            print(f"{name:18s}  skipped: {err}")
            continue
        speeds = []
        for threads in args.threads:
            torch.set_num_threads(threads)
            detector = build()  # onnxruntime sessions take their thread count at creation
            speeds.append("{:6.1f} /{:6.1f} /{:6.1f}".format(*time_ms(detector, frame, args.runs)))
        print(f"{name:18s}  {r['hit']:2d}/{r['gt']:2d}   {r['extra']:3d}    {r['ref_hit']:2d}/{r['ref']:2d}      "
              + "  ".join(f"{s:26s}" for s in speeds))


if __name__ == "__main__":
    main()
