"""Per-detector cost of ``detect.people.PeopleDetector`` at 640x480 and whether it escalates.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/people_detector_cost.py [--repeats 10]

For each COCO-WholeBody fixture image resized to 640x480: the detectors that ran (MoveNet alone
for one clear person; the tiles, CenterNet and BlazePose otherwise), and the median wall and
process-CPU milliseconds of each (one thread).  CPU time is the better figure on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "coco_wholebody"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    from wholebody.experts.detect.people import PeopleDetector

    detector = PeopleDetector(num_threads=1)
    for path in sorted(FIXTURES.glob("*.jpg")):
        image = np.asarray(Image.open(path).convert("RGB").resize((640, 480), Image.BILINEAR))
        detector(image)  # warm-up: sessions and lazily built detectors
        timings: dict[str, list[float]] = {}
        cpus: dict[str, list[float]] = {}
        cpu = []
        for _ in range(args.repeats):
            start = time.process_time()
            found = detector(image)
            cpu.append((time.process_time() - start) * 1000.0)
            for name, ms in detector.last_timing.items():
                timings.setdefault(name, []).append(ms)
                cpus.setdefault(name, []).append(detector.last_cpu[name])
        print(json.dumps({"image": path.name, "people": len(found.boxes), "cpu_ms_total": round(float(np.median(cpu)), 1),
                          "cpu_ms": {k: round(float(np.median(v)), 1) for k, v in cpus.items()},
                          "wall_ms": {k: round(float(np.median(v)), 1) for k, v in timings.items()}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
