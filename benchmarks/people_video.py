"""People found per frame and track ids per person on a video, with and without carry-over.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/people_video.py VIDEO [--frames N] [--no-carry] [--dump F.npz]

Runs the part-expert estimator (body only: no hands or face, which do not change who is found)
on consecutive frames with ``track.PersonTracker`` and the video carry-over the ``predict``
runner uses (``carry_over.CarryOver`` -> ``WholeBodyEstimator(carry=...)``).  Prints one JSON line:
how many people were found per frame, and per track id the frames it covers (first, last,
count) and its mean box centre (pixels of the resized frame), from which the reader tells who
is who.  ``--expect N`` adds the fraction of N people found per frame (extra people not counted).
``--dump`` writes every person of every frame (frame, track id, box, 23 body + foot points) to
an ``.npz`` so tracking rules can be replayed and overlays drawn without re-running the models.
"""

from __future__ import annotations

import argparse
import collections
import json
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video")
    parser.add_argument("--frames", type=int, default=100, help="frames to process from --start")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--expect", type=int, default=None, help="people visible in every frame (counted by eye)")
    parser.add_argument("--no-carry", action="store_true")
    parser.add_argument("--max-side", type=int, default=960, help="frames are resized to this longer side")
    parser.add_argument("--dump", default=None, help="write each frame's people (boxes, body points, ids) to this .npz")
    args = parser.parse_args(argv)
    import cv2

    from wholebody.carry_over import CarryOver
    from wholebody.experts import WholeBodyEstimator
    from wholebody.track import PersonTracker

    estimator = WholeBodyEstimator(face=None, hand_zoom=False, num_threads=1)
    tracker, carry_over = PersonTracker(), CarryOver()
    capture = cv2.VideoCapture(args.video)
    capture.set(cv2.CAP_PROP_POS_FRAMES, args.start)
    carry, counts, frames_of = None, [], collections.defaultdict(list)
    dumped = []  # per frame: (frame index, person boxes, 23 body + foot points, track ids)
    centres = collections.defaultdict(list)
    start = time.perf_counter()
    for index in range(args.start, args.start + args.frames):
        ok, bgr = capture.read()
        if not ok:
            break
        scale = args.max_side / max(bgr.shape[:2])
        if scale < 1:
            bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        people = estimator(rgb, carry=None if args.no_carry else carry)
        tracker.update(people, index)
        carry = carry_over.update(people, index)
        counts.append(len(people))
        dumped.append((index, [p.bbox for p in people], [p.keypoints[:23] for p in people],
                       [p.track_id for p in people]))
        for person in people:
            frames_of[person.track_id].append(index)
            centres[person.track_id].append(person.bbox[:2] + person.bbox[2:] / 2)
    seconds = time.perf_counter() - start
    hist = collections.Counter(counts)
    out = {"video": args.video, "frames": len(counts), "carry": not args.no_carry,
           "s_per_frame": round(seconds / max(len(counts), 1), 3),
           "people_per_frame": dict(sorted(hist.items())),
           "tracks": {tid: [min(f), max(f), len(f)] for tid, f in sorted(frames_of.items())},
           "track_centres": {tid: np.round(np.mean(c, axis=0)).astype(int).tolist() for tid, c in sorted(centres.items())}}
    if args.expect:
        out["found_fraction"] = round(sum(min(c, args.expect) for c in counts) / (args.expect * max(len(counts), 1)), 3)
    print(json.dumps(out))
    if args.dump:
        _dump(args.dump, dumped)
    return 0


def _dump(path: str, dumped: list) -> None:
    """Flat arrays, one row per person: frame, track id, box (4), 23 points (x, y, score)."""
    from wholebody.data.atomic import atomic_open

    rows = [(f, t, np.asarray(b, float), np.asarray(k, float)) for f, boxes, points, ids in dumped
            for b, k, t in zip(boxes, points, ids)]
    with atomic_open(path, "wb") as handle:
        np.savez(handle, frame=np.array([r[0] for r in rows], int), track=np.array([r[1] for r in rows], int),
                 box=np.array([r[2] for r in rows]).reshape(-1, 4),
                 points=np.array([r[3] for r in rows]).reshape(-1, 23, 3))


if __name__ == "__main__":
    raise SystemExit(main())
