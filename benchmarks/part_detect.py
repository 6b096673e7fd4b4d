"""Whole-image face and palm detection: fixture accuracy, whole-body AP variants, photo counts, cost.

    PYTHONPATH=$PWD python benchmarks/part_detect.py ap [--no-part-detect] [--part-tiles auto|on|off]
    PYTHONPATH=$PWD python benchmarks/part_detect.py crops        # RHD hands, 300W faces alone
    PYTHONPATH=$PWD python benchmarks/part_detect.py photos [--overlays DIR]   # ../shared/media/photos
    PYTHONPATH=$PWD python benchmarks/part_detect.py speed        # ms per image at 640 x 480
                                     # (wall, CPU) per detector, then per image and people found

``ap`` is ``python -m wholebody.experts.benchmark`` on the COCO-WholeBody fixture with the part
detectors switched as asked; ``crops`` runs the estimator on the hand-only (RHD) and face-only
(300W) fixture images and scores the parts it outputs against the ground truth (mean point
error in pixels for hands, NME by inter-ocular distance for faces); ``photos`` prints people,
part-only entries, faces and hands found per photo.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TILES = {"auto": "auto", "on": True, "off": False}


def estimator(args):
    from wholebody.experts import WholeBodyEstimator

    return WholeBodyEstimator(num_threads=args.threads, part_detect=not args.no_part_detect,
                              part_tiles=TILES[args.part_tiles])


def run_ap(args) -> None:
    from wholebody.experts.benchmark import evaluate_results, predict_annotation_file

    folder = SHARED / "fixtures" / "coco_wholebody"
    ann = folder / "test_coco_wholebody.json"
    results = predict_annotation_file(estimator(args), ann, folder, gt_boxes=False)
    print(evaluate_results(ann, results).table())


def _nearest_part(people, parts: tuple[str, ...], truth: np.ndarray, visible: np.ndarray) -> tuple[float | None, int]:
    """Mean point error (px) of the output part nearest the truth (labelled points), and parts output."""
    from wholebody.schema import PART_SLICES

    errors = [float(np.linalg.norm(p.keypoints[PART_SLICES[part], :2][visible] - truth[visible], axis=1).mean())
              for p in people for part in parts if p.keypoints[PART_SLICES[part], 2].max() >= 0.5]
    return (min(errors) if errors else None), len(errors)


def run_crops(args) -> None:
    """Hands alone (RHD) and faces alone (300W): found / total, hand error px, face NME."""
    from wholebody.data.adapters.face300w import load_300w
    from wholebody.data.adapters.rhd import load_rhd
    from wholebody.experts.benchmark import read_rgb

    est = estimator(args)
    hand_errors, face_nmes = [], []
    for sample in load_rhd(SHARED / "fixtures" / "rhd" / "test_rhd.json"):
        people = est(read_rgb(sample.image_path))
        for hand in sample.instances:
            error, count = _nearest_part(people, ("lefthand", "righthand"), hand.pose2d, hand.visible2d)
            hand_errors.append(error)
            shown = None if error is None else round(error, 2)
            print(f"RHD {sample.image_path.name}: hands output {count}, error {shown} px")
    for sample in load_300w(SHARED / "fixtures" / "300w" / "test_300w.json"):
        people = est(read_rgb(sample.image_path))
        for face in sample.instances:
            error, count = _nearest_part(people, ("face",), face.pose2d, face.visible2d)
            iod = float(np.linalg.norm(face.pose2d[36] - face.pose2d[45]))  # outer eye corners (iBUG 37, 46)
            face_nmes.append(None if error is None else error / iod)
            print(f"300W {sample.image_path.name}: faces output {count}, NME {face_nmes[-1]}")
    found = [e for e in hand_errors if e is not None]
    print(f"hands found {len(found)}/{len(hand_errors)}, mean error {np.mean(found) if found else float('nan'):.2f} px")
    found = [e for e in face_nmes if e is not None]
    print(f"faces found {len(found)}/{len(face_nmes)}, mean NME {np.mean(found) if found else float('nan'):.4f}")


def run_photos(args) -> None:
    from wholebody.experts.benchmark import read_rgb
    from wholebody.viz.overlay import draw_people
    from wholebody.data.images import write_image

    est = estimator(args)
    for path in sorted((SHARED / "media" / "photos").glob("*.jpg")):
        rgb = read_rgb(path)
        start = time.perf_counter()
        people = est(rgb)
        ms = (time.perf_counter() - start) * 1000
        bodies = [p for p in people if p.score > 0]
        alone = [p for p in people if p.score == 0]

        def count(group, parts):
            return sum(p.part_boxes.get(part) is not None for p in group for part in parts)

        hands = ("lefthand", "righthand")
        print(json.dumps({"photo": path.name, "bodies": len(bodies), "faces_with_body": count(bodies, ("face",)),
                          "faces_alone": count(alone, ("face",)), "hands_with_body": count(bodies, hands),
                          "hands_alone": count(alone, hands), "ms": round(ms)}))
        if args.overlays:
            write_image(Path(args.overlays) / f"{path.stem}.png", draw_people(rgb, people, 0.3))


def run_speed(args) -> None:
    from wholebody.experts.benchmark import read_rgb, speed_table

    folder = SHARED / "fixtures" / "coco_wholebody"
    data = json.loads((folder / "test_coco_wholebody.json").read_text())
    images = [read_rgb(folder / image["file_name"]) for image in data["images"]]
    est = estimator(args)
    if est.parts is not None:  # per-detector cost on the same 640 x 480 images
        import cv2

        from wholebody.experts.benchmark import time_call

        tiles = est.parts.use_tiles(np.zeros((480, 640, 3), np.uint8))
        for rgb in images:
            rgb = np.ascontiguousarray(cv2.resize(rgb, (640, 480), interpolation=cv2.INTER_AREA))
            row = {"faces_ms": time_call(lambda: est.parts.face_detector(rgb, tiles), args.repeats),
                   "palms_ms": time_call(lambda: est.parts.palm_detector(rgb, tiles), args.repeats),
                   "detect_with_hand_landmarks_ms": time_call(lambda: est.parts.detect(rgb), args.repeats),
                   "palms": len(est.parts.palm_detector(rgb, tiles))}
            print(json.dumps({k: [round(x, 1) for x in v] if isinstance(v, tuple) else v for k, v in row.items()}))
    for row in speed_table(est, images, repeats=args.repeats, holistic=False):
        print(json.dumps(row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["ap", "crops", "photos", "speed"])
    parser.add_argument("--no-part-detect", action="store_true")
    parser.add_argument("--part-tiles", default="auto", choices=sorted(TILES))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--overlays", default=None, help="write overlays of the photos here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    {"ap": run_ap, "crops": run_crops, "photos": run_photos, "speed": run_speed}[args.what](args)


if __name__ == "__main__":
    main()
