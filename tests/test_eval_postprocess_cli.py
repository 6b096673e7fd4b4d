"""``wholebody eval --rescore`` / ``--oks-nms`` change AP exactly as worked out by hand.

Hand-made cases where every labelled point of every part is predicted either exactly (OKS 1 at
every threshold) or 200 px away (OKS ~0), so each result is a sure TP or FP and the COCO AP
(101 recall points, precision made monotone from the right) follows from the ranking alone:

* rescore: one person; a wrong result with box score 0.9 but keypoint scores 0.1 (none above 0.2,
  so rescored to 0) and the exact result with box score 0.4 and keypoint scores 0.9 (rescored
  0.36).  As given: FP then TP, precision 1/2 at recall 1 -> AP 0.5.  Rescored: TP first -> AP 1.
* OKS-NMS: two images with one person each; image 1 has the exact result (0.9) and a copy
  shifted by 0.5 px (0.8, OKS with it ~1 > 0.9), image 2 the exact result (0.7).  As given:
  TP, FP, TP -> precision 1 up to recall 0.5 (51 recall points) and 2/3 after (50 points):
  AP = (51 + 50 * 2/3) / 101.  With NMS the copy is gone -> AP 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from wholebody.schema import EVAL_PARTS

FIELDS = (("keypoints", 17), ("foot_kpts", 6), ("face_kpts", 68), ("lefthand_kpts", 21), ("righthand_kpts", 21))
BOX = [100.0, 50.0, 200.0, 300.0]  # x, y, w, h of every person (pixels)


def _points(seed: int) -> np.ndarray:
    """133 labelled points inside BOX."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(110, 290, 133), rng.uniform(60, 340, 133)], axis=1)


def _split(points: np.ndarray, third: np.ndarray) -> dict[str, list[float]]:
    """133 (x, y) + a third column -> the five COCO-WholeBody keypoint fields."""
    flat = np.concatenate([points, third[:, None]], axis=1)
    out, start = {}, 0
    for field, count in FIELDS:
        out[field] = flat[start:start + count].reshape(-1).round(3).tolist()
        start += count
    return out


def _ground_truth(image_ids: list[int]) -> dict:
    annotations = []
    for image_id in image_ids:
        ann = {"id": image_id, "image_id": image_id, "category_id": 1, "iscrowd": 0, "bbox": BOX,
               "area": BOX[2] * BOX[3], "num_keypoints": 17, **_split(_points(image_id), np.full(133, 2.0))}
        for part in ("face", "lefthand", "righthand"):
            ann[f"{part}_box"], ann[f"{part}_valid"] = BOX, True
        ann["foot_valid"] = True
        annotations.append(ann)
    return {"images": [{"id": i, "file_name": f"{i}.jpg", "width": 640, "height": 480} for i in image_ids],
            "annotations": annotations, "categories": [{"id": 1, "name": "person"}]}


def _result(image_id: int, score: float, keypoint_score: float, shift: float) -> dict:
    points = _points(image_id) + shift
    return {"image_id": image_id, "category_id": 1, "score": score, **_split(points, np.full(133, keypoint_score))}


def _evaluate(tmp_path: Path, gt: dict, results: list[dict], *flags: str) -> dict[str, float]:
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(results))
    out = tmp_path / f"stats{len(flags)}{'-'.join(flags)}.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    done = subprocess.run([sys.executable, "-m", "wholebody", "eval", str(tmp_path / "gt.json"),
                           str(tmp_path / "res.json"), "--json", str(out), *flags],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    stats = json.loads(out.read_text())
    return {part: stats[part]["AP"] for part in EVAL_PARTS}


def test_rescore_ranks_by_box_score_times_mean_keypoint_score(tmp_path):
    gt = _ground_truth([1])
    results = [_result(1, 0.9, 0.1, shift=200.0), _result(1, 0.4, 0.9, shift=0.0)]
    for part, ap in _evaluate(tmp_path, gt, results).items():
        assert ap == pytest.approx(0.5, abs=1e-9), part
    for part, ap in _evaluate(tmp_path, gt, results, "--rescore").items():
        assert ap == pytest.approx(1.0, abs=1e-9), part


def test_oks_nms_removes_the_near_duplicate(tmp_path):
    gt = _ground_truth([1, 2])
    results = [_result(1, 0.9, 1.0, shift=0.0), _result(1, 0.8, 1.0, shift=0.5), _result(2, 0.7, 1.0, shift=0.0)]
    for part, ap in _evaluate(tmp_path, gt, results).items():
        assert ap == pytest.approx((51 + 50 * 2 / 3) / 101, abs=1e-9), part
    for part, ap in _evaluate(tmp_path, gt, results, "--oks-nms").items():
        assert ap == pytest.approx(1.0, abs=1e-9), part


def test_oks_nms_keeps_distinct_people(tmp_path):
    """A result 200 px away from the kept one is another person to NMS: the FP stays (AP 0.5)."""
    gt = _ground_truth([1])
    results = [_result(1, 0.9, 1.0, shift=200.0), _result(1, 0.4, 1.0, shift=0.0)]
    for part, ap in _evaluate(tmp_path, gt, results, "--oks-nms").items():
        assert ap == pytest.approx(0.5, abs=1e-9), part
