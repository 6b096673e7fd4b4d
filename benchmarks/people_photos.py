"""People found on the group photos of ../shared/media/photos, with overlays to count them by eye.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/people_photos.py OUT_DIR [--movenet-only] [--repeat N]

For each photo: the number of people the default estimator outputs, their scores, the number
of pairs that coincide (``experts.assemble.duplicates.same_skeleton``: should be 0), and an overlay
``OUT_DIR/<name>.png`` (900 px) on which to count who was found.  ``--movenet-only`` gives the
previous default (MoveNet-MultiPose alone) for comparison.  ``--repeat N`` also times N more
(warm) runs per photo and reports the lowest CPU time (``cpu_s``, process time: on a machine
shared with other work, wall time says little); to compare two versions, run this script with
``PYTHONPATH`` pointing at each checkout in turn.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

PHOTOS = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "photos"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--movenet-only", action="store_true")
    parser.add_argument("--repeat", type=int, default=0, help="warm timed runs per photo (lowest CPU time reported)")
    args = parser.parse_args(argv)
    from wholebody.experts import WholeBodyEstimator
    from wholebody.experts.assemble.duplicates import same_skeleton
    from wholebody.experts.detect.people import PeopleDetector
    from wholebody.viz.overlay import draw_people

    detector = PeopleDetector(num_threads=1, escalate=not args.movenet_only)
    estimator = WholeBodyEstimator(detector=detector, num_threads=1)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(PHOTOS.glob("*.jpg")):
        image = np.asarray(Image.open(path).convert("RGB"))
        people = estimator(image)
        cpu = []
        for _ in range(args.repeat):
            start = time.process_time()
            estimator(image)
            cpu.append(time.process_time() - start)
        coincide = sum(same_skeleton(a.keypoints, b.keypoints) for i, a in enumerate(people) for b in people[:i])
        overlay = Image.fromarray(draw_people(image, people))
        overlay.thumbnail((900, 900))
        overlay.save(args.out_dir / f"{path.stem}.png")
        print(json.dumps({"image": path.name, "people": len(people), "coinciding_pairs": int(coincide),
                          "scores": [round(p.score, 2) for p in people]}
                         | ({"cpu_s": round(min(cpu), 3)} if cpu else {})))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
