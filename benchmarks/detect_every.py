"""What ``wholebody predict --detect-every N`` costs and saves on a video.

Builds a video that pans slowly across a still photo (a 640x480 window moving 2 px per frame,
so the people move), runs ``predict`` with the detector on every frame and on every Nth frame,
and reports the wall time per frame of each and how far apart their keypoints are: for every
frame, each person of the every-frame run is matched to the nearest person (mean body-point
distance) of the other run; the table gives the median of those distances in pixels and the
share of people found by both.

Usage: ``python benchmarks/detect_every.py IMAGE [--frames 60] [--every 3 5]``
(e.g. ``../shared/fixtures/coco_wholebody/000000197388.jpg``, five skiers).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from wholebody.cli.main import main as wholebody
from wholebody.data.images import read_image


def pan_video(image_path: Path, out: Path, frames: int, size=(640, 480), step: int = 2) -> Path:
    import cv2

    image = read_image(image_path)
    width, height = size
    canvas = np.zeros((max(height, image.shape[0]), image.shape[1] + frames * step + width, 3), np.uint8)
    canvas[: image.shape[0], width // 2: width // 2 + image.shape[1]] = image
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), 30, (width, height))
    for t in range(frames):
        x = width // 4 + step * t
        writer.write(np.ascontiguousarray(canvas[:height, x: x + width, ::-1]))
    writer.release()
    return out


def run(video: Path, out: Path, every: int) -> tuple[float, list[dict]]:
    tic = time.perf_counter()
    status = wholebody(["predict", str(video), "--out", str(out), "--no-overlay", "--quiet", "--threads", "1",
                        "--detect-every", str(every)])
    seconds = time.perf_counter() - tic
    if status != 0:
        raise SystemExit(f"predict failed with status {status}")
    return seconds, json.loads((out / "results.json").read_text())


def body_points(entry: dict) -> np.ndarray:
    return np.array(entry["keypoints"], float).reshape(17, 3)


def agreement(reference: list[dict], other: list[dict]) -> tuple[float, float]:
    """(median px distance of matched people, share of reference people matched within 50 px)."""
    by_frame: dict[int, list[np.ndarray]] = {}
    for entry in other:
        by_frame.setdefault(entry["frame"], []).append(body_points(entry))
    distances = []
    for entry in reference:
        mine = body_points(entry)
        seen = mine[:, 2] > 0.3
        candidates = [np.linalg.norm(p[:, :2] - mine[:, :2], axis=1)[seen].mean() for p in by_frame.get(entry["frame"], [])]
        distances.append(min(candidates) if candidates and seen.any() else np.inf)
    distances = np.array(distances)
    found = np.isfinite(distances) & (distances < 50)
    return float(np.median(distances[found])) if found.any() else float("nan"), float(found.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image", type=Path)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--every", type=int, nargs="+", default=[3, 5])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        video = pan_video(args.image, Path(tmp) / "pan.mp4", args.frames)
        wholebody(["predict", str(video), "--out", str(Path(tmp) / "warm"), "--no-overlay", "--quiet"])  # caches
        base_seconds, base = run(video, Path(tmp) / "every1", 1)
        print(f"{'detect every':>12} {'ms/frame':>9} {'people':>7} {'median px to every-frame run':>29} {'found':>6}")
        print(f"{1:>12} {1000 * base_seconds / args.frames:9.1f} {len(base):7d} {'-':>29} {'-':>6}")
        for every in args.every:
            seconds, results = run(video, Path(tmp) / f"every{every}", every)
            median, found = agreement(base, results)
            print(f"{every:>12} {1000 * seconds / args.frames:9.1f} {len(results):7d} {median:29.2f} {found:6.1%}")


if __name__ == "__main__":
    main()
