"""Whether two checkouts give bit-identical people on the group photos and the COCO-WholeBody fixtures.

    cd /tmp && PYTHONPATH=/path/to/checkout_a OMP_NUM_THREADS=1 python /path/to/benchmarks/same_outputs.py dump A.pkl
    cd /tmp && PYTHONPATH=/path/to/checkout_b OMP_NUM_THREADS=1 python /path/to/benchmarks/same_outputs.py dump B.pkl
    python benchmarks/same_outputs.py compare A.pkl B.pkl

``dump`` runs the default estimator (``PeopleDetector``, one thread) on the 9 photos of
``../shared/media/photos`` and the 4 fixture images and stores, per person, the 133 keypoints,
score, part scores, box, part boxes, 3D per part, track id and box score.  ``compare`` checks
every one with ``np.array_equal`` and prints each difference (run from a folder outside the
checkouts: ``python -c`` / ``-m`` put the current folder first on ``sys.path``).
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
IMAGES = [*sorted((SHARED / "media" / "photos").glob("*.jpg")), *sorted((SHARED / "fixtures" / "coco_wholebody").glob("*.jpg"))]
FIELDS = ("keypoints", "score", "part_scores", "bbox", "part_boxes", "keypoints_3d", "track_id", "box_score")


def dump(path: Path) -> None:
    from PIL import Image

    import wholebody
    from wholebody.experts import WholeBodyEstimator
    from wholebody.experts.detect.people import PeopleDetector

    estimator = WholeBodyEstimator(detector=PeopleDetector(num_threads=1), num_threads=1)
    results = {}
    for image_path in IMAGES:
        people = estimator(np.asarray(Image.open(image_path).convert("RGB")))
        results[image_path.name] = [{name: getattr(p, name) for name in FIELDS} for p in people]
    path.write_bytes(pickle.dumps(results))
    print(f"{wholebody.__file__}: {sum(map(len, results.values()))} people on {len(results)} images -> {path}")


def same(a, b) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if a is None or b is None:
        return a is None and b is None
    return np.array_equal(np.asarray(a), np.asarray(b))


def compare(path_a: Path, path_b: Path) -> int:
    a, b = (pickle.loads(p.read_bytes()) for p in (path_a, path_b))
    differences, people = 0, 0
    for name in sorted(set(a) | set(b)):
        if len(a.get(name, [])) != len(b.get(name, [])):
            print(f"{name}: {len(a.get(name, []))} vs {len(b.get(name, []))} people")
            differences += 1
            continue
        for index, (pa, pb) in enumerate(zip(a[name], b[name])):
            people += 1
            for field in FIELDS:
                if not same(pa[field], pb[field]):
                    print(f"{name} person {index}: {field} differs")
                    differences += 1
    print(f"{people} people compared, {differences} difference(s)")
    return int(differences > 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dump").add_argument("out", type=Path)
    both = sub.add_parser("compare")
    both.add_argument("a", type=Path)
    both.add_argument("b", type=Path)
    args = parser.parse_args(argv)
    if args.command == "dump":
        dump(args.out)
        return 0
    return compare(args.a, args.b)


if __name__ == "__main__":
    raise SystemExit(main())
