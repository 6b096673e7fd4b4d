"""COCO-WholeBody evaluation: wholebody.eval vs xtcocotools 1.14.3, CPU time and peak memory.

    OMP_NUM_THREADS=1 python benchmarks/bench_eval.py [--images 5000] [--seed 0] [--keep DIR]

Builds a seeded val-scale synthetic set (wholebody.eval.synthetic: 5,000 images, ~8,000
people, ~60,000 results with all 133 points, numbers written through float32 like mmpose),
writes the ground-truth and results JSON files, then runs each evaluator as a whole process in
its own subprocess (parse both files + all six parts; xtcocotools exactly as mmpose calls it:
COCO, loadRes, six COCOeval runs).  CPU time (user + system) and peak RSS come from the
child's rusage (os.wait4), so other load on the machine does not count.  Ours runs twice with
a fresh numba cache: the first run includes JIT compilation, the second is the normal case
(numba caches compiled code on disk).  Checks that all 60 stats agree within 1e-12.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOLERANCE = 1e-12


def _child(side: str, gt_path: str, res_path: str, out_path: str) -> None:
    """Evaluate in this process and write {"stats": ..., "stages": {stage: cpu seconds}}."""
    stages, last = {}, time.process_time()

    def lap(name):
        nonlocal last
        now = time.process_time()
        stages[name], last = now - last, now

    if side == "ours":
        from wholebody.data.cocowb import load_ground_truth, load_results
        from wholebody.eval.cocoeval import evaluate

        lap("import")
        gt = load_ground_truth(gt_path)
        lap("parse ground truth")
        res = load_results(res_path, gt=gt)
        lap("parse results")
        stats = evaluate(gt, res).stats
        lap("evaluate 6 parts")
    else:
        from wholebody.eval.reference import xtcocotools_stats

        lap("import")
        stats = xtcocotools_stats(gt_path, res_path)
        lap("COCO + loadRes + 6 COCOeval")
    Path(out_path).write_text(json.dumps({"stats": stats, "stages": stages}))


def _run_child(side: str, gt_path: Path, res_path: Path, out: Path, env: dict) -> dict:
    proc = subprocess.Popen([sys.executable, __file__, "--child", side, str(gt_path), str(res_path), str(out)], env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{side} evaluator failed (exit {proc.returncode})")
    report = json.loads(out.read_text())
    report["cpu_s"] = usage.ru_utime + usage.ru_stime
    report["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return report


def _write_set(folder: str, images: str, seed: str) -> None:
    """Child: build the synthetic set, write gt.json / results.json into ``folder``."""
    import orjson

    from wholebody.eval.synthetic import SyntheticSpec, make_synthetic

    spec = SyntheticSpec(n_images=int(images), people_per_image=1.78, results_per_person=4.0, false_per_image=5.6,
                         float32=True)
    gt, results = make_synthetic(int(seed), spec)
    (Path(folder) / "gt.json").write_bytes(orjson.dumps(gt))
    (Path(folder) / "results.json").write_bytes(orjson.dumps(results))
    (Path(folder) / "counts.json").write_text(json.dumps([len(gt["annotations"]), len(results)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="write the JSON files here and keep them")
    parser.add_argument("--child", nargs=4, metavar=("SIDE", "GT", "RES", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--make-set", nargs=3, metavar=("DIR", "IMAGES", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    if args.make_set:
        _write_set(*args.make_set)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        tic = time.perf_counter()
        # Built in a child: a child's peak RSS starts from its parent's (Linux keeps the
        # high-water mark across fork/exec), so this process must stay small.
        subprocess.run([sys.executable, __file__, "--make-set", str(folder), str(args.images), str(args.seed)],
                       check=True)
        gt_path, res_path = folder / "gt.json", folder / "results.json"
        n_people, n_results = json.loads((folder / "counts.json").read_text())
        size_mb = (gt_path.stat().st_size + res_path.stat().st_size) / 2**20
        print(f"set: {args.images} images, {n_people} people, {n_results} results, {size_mb:.0f} MB of JSON "
              f"(built in {time.perf_counter() - tic:.0f} s)")
        env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_CACHE_DIR=str(Path(tmp) / "numba-cache"))
        runs = {
            "ours, cold numba cache": _run_child("ours", gt_path, res_path, Path(tmp) / "cold.json", env),
            "ours": _run_child("ours", gt_path, res_path, Path(tmp) / "ours.json", env),
            "xtcocotools 1.14.3": _run_child("xtcocotools", gt_path, res_path, Path(tmp) / "xt.json", env),
        }
    for name, report in runs.items():
        stages = ", ".join(f"{stage} {cpu:.2f}" for stage, cpu in report["stages"].items())
        print(f"{name:24s} CPU {report['cpu_s']:6.2f} s  peak RSS {report['peak_rss_mb']:6.0f} MB  ({stages})")
    ours, ref = runs["ours"], runs["xtcocotools 1.14.3"]
    worst = max(abs(ours["stats"][p][k] - ref["stats"][p][k]) for p in ref["stats"] for k in ref["stats"][p])
    worst = max(worst, max(abs(runs["ours, cold numba cache"]["stats"][p][k] - ref["stats"][p][k])
                           for p in ref["stats"] for k in ref["stats"][p]))
    count = sum(len(v) for v in ref["stats"].values())
    print(f"stats: {count} values, largest difference {worst:.1e} ({'OK' if worst <= TOLERANCE else 'MISMATCH'})")
    print(f"CPU time: xtcocotools / ours = {ref['cpu_s'] / ours['cpu_s']:.1f}x "
          f"(with JIT compile: {ref['cpu_s'] / runs['ours, cold numba cache']['cpu_s']:.1f}x)")
    print(f"peak memory: ours / xtcocotools = {ours['peak_rss_mb'] / ref['peak_rss_mb']:.2f}")
    if worst > TOLERANCE:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
