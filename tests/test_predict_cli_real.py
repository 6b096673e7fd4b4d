"""``wholebody predict`` with REAL models, in a subprocess, on the COCO-WholeBody fixture images.

The README's main job: no fake estimator anywhere.  The default run (part experts + MoveNet) on
000000197388.jpg (5 labelled skiers) was measured at 5 people; median point errors body 4.0-6.6
px, foot 5.4-25.6, face 2.3, left hands 5.8 / 7.4, right hands 2.1-8.9; ~4 s on one core.  A part
counts as found when its median error over the labelled points is below 0.1 x the person box
diagonal (body, foot) or half the part box diagonal (face, hands); the floors sit one below the
measured counts (body 5 of 5, foot 4 of 5, face 1 of 1, left hand 2 of 2, right hand 3 of 3).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow  # ~40 s on one core: four CLI runs with real models
pytest.importorskip("mediapipe", reason="the part experts need mediapipe==0.10.14's bundled models")
pytest.importorskip("ai_edge_litert", reason="the part experts run the models with ai-edge-litert")

SKIERS = "000000197388.jpg"
PARTS = {"body": ("keypoints", 17), "foot": ("foot_kpts", 6), "face": ("face_kpts", 68),
         "lefthand": ("lefthand_kpts", 21), "righthand": ("righthand_kpts", 21)}
FOUND_FLOORS = {"body": 4, "foot": 3, "face": 1, "lefthand": 1, "righthand": 2}


@pytest.fixture(scope="module")
def prepared_detectors():
    from wholebody.experts.runtime.models import status

    missing = [name for name, state in status().items() if state != "ok"]
    if missing:
        pytest.skip(f"person detector models not prepared: {missing} (run `wholebody models prepare`)")


def _predict(*args) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    return subprocess.run([sys.executable, "-m", "wholebody", "predict", *map(str, args), "--threads", "1"],
                          capture_output=True, text=True, env=env, timeout=300)


def _iou(a, b) -> float:
    """IoU of two xywh boxes."""
    wx = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    wy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = wx * wy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def parts_found(results: list[dict], annotations: list[dict]) -> dict[str, tuple[int, int]]:
    """Per part: (labelled people whose part is found, labelled people); each annotation is
    compared with the result whose person box overlaps it most."""
    counts = {part: [0, 0] for part in PARTS}
    for ann in annotations:
        result = max(results, key=lambda r: _iou(r["person_box"], ann["bbox"]))
        if _iou(result["person_box"], ann["bbox"]) < 0.5:
            continue  # person missed: counts as not found for every labelled part
        for part, (field, count) in PARTS.items():
            truth = np.asarray(ann[field], float).reshape(count, 3)
            visible = truth[:, 2] > 0
            if not visible.any():
                continue
            predicted = np.asarray(result[field], float).reshape(count, 3)
            error = np.median(np.linalg.norm(predicted[visible, :2] - truth[visible, :2], axis=1))
            limit = (0.1 * np.hypot(*ann["bbox"][2:]) if part in ("body", "foot")
                     else 0.5 * np.hypot(*ann[f"{part}_box"][2:]))
            counts[part][0] += bool(error < limit)
    for ann in annotations:
        for part, (field, count) in PARTS.items():
            counts[part][1] += bool((np.asarray(ann[field], float).reshape(count, 3)[:, 2] > 0).any())
    return {part: tuple(c) for part, c in counts.items()}


@pytest.fixture(scope="module")
def default_run(fixtures_dir, prepared_detectors, tmp_path_factory):
    out = tmp_path_factory.mktemp("default_run")
    done = _predict(fixtures_dir / "coco_wholebody" / SKIERS, "--out", out)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def annotations(fixtures_dir):
    gt = json.loads((fixtures_dir / "coco_wholebody" / "test_coco_wholebody.json").read_text())
    return gt["annotations"]


def test_default_model_finds_the_skiers_with_every_part(default_run, annotations):
    results = json.loads((default_run / "results.json").read_text())
    skiers = [a for a in annotations if a["image_id"] == 197388]
    assert len(skiers) - 1 <= len(results) <= len(skiers) + 2, f"{len(results)} people for {len(skiers)} skiers"
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    found = parts_found(results, skiers)
    for part, floor in FOUND_FLOORS.items():
        assert found[part][0] >= floor, f"{part}: {found[part][0]} of {found[part][1]} labelled found"
    people_3d = json.loads((default_run / "results_3d.json").read_text())["people"]
    assert len(people_3d) == len(results)
    for person in people_3d:
        assert np.asarray(person["body_3d"], float).shape == (23, 3)
        for part, count in (("lefthand", 21), ("righthand", 21), ("face", 68)):
            assert np.asarray(person[f"{part}_3d"], float).shape == (count, 3), part


def test_default_overlay_is_drawn_at_the_people(default_run, fixtures_dir):
    """The overlay PNG differs from the photo around the predicted body points, and mostly
    equals it elsewhere (an overlay, not a repaint)."""
    photo = np.asarray(Image.open(fixtures_dir / "coco_wholebody" / SKIERS).convert("RGB")).astype(int)
    overlay = np.asarray(Image.open(default_run / "overlays" / "000000197388.png").convert("RGB")).astype(int)
    assert overlay.shape == photo.shape
    changed = np.abs(overlay - photo).max(axis=2) > 30
    results = json.loads((default_run / "results.json").read_text())
    hits = []
    for result in results:
        body = np.asarray(result["keypoints"], float).reshape(17, 3)
        for x, y, score in body:
            if score > 0.3 and 0 <= x < photo.shape[1] and 0 <= y < photo.shape[0]:
                hits.append(changed[int(y), int(x)])
    assert len(hits) > 20 and np.mean(hits) > 0.8
    assert changed.mean() < 0.3


def test_centernet_detector_through_the_cli(fixtures_dir, prepared_detectors, tmp_path, annotations):
    """The CLI's people stand in CenterNet's own boxes (MoveNet's differ by ~8 px in width)."""
    from wholebody.experts.benchmark import read_rgb
    from wholebody.experts.detect.detections import as_detections
    from wholebody.experts.detect.person_detector import make_person_detector

    image_path = fixtures_dir / "coco_wholebody" / "000000000785.jpg"
    done = _predict(image_path, "--detector", "centernet", "--out", tmp_path, "--no-overlay")
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    centernet_boxes = as_detections(make_person_detector("centernet", num_threads=1)(read_rgb(image_path))).boxes
    assert len(centernet_boxes) == len(results)
    for result in results:
        assert np.abs(centernet_boxes - result["person_box"]).max(axis=1).min() < 0.05  # pixels (2 decimals written)
    skier = next(a for a in annotations if a["image_id"] == 785)
    assert len(results) >= 1 and max(_iou(r["person_box"], skier["bbox"]) for r in results) > 0.7
    found = parts_found(results, [skier])
    assert found["body"] == (1, 1) and found["face"] == (1, 1), found


def test_topdown_checkpoint_through_the_cli(fixtures_dir, prepared_detectors, tmp_path, annotations):
    """--model with a tiny (untrained) ZoomNet checkpoint: one person per detected box, every
    point mapped back from the crop into the image around that box, part boxes written."""
    pytest.importorskip("torch")
    from wholebody.models.registry import build_model
    from wholebody.models.checkpoints import save_checkpoint

    model = build_model("zoomnet", tiny=True, input_size=(128, 96))
    save_checkpoint(tmp_path / "tiny.pt", {"architecture": "zoomnet", "config": model.config.to_dict(),
                                           "model": model.state_dict()})
    done = _predict(fixtures_dir / "coco_wholebody" / "000000000785.jpg", "--model", tmp_path / "tiny.pt",
                    "--detector", "movenet", "--out", tmp_path / "out", "--no-overlay")
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    skier = next(a for a in annotations if a["image_id"] == 785)
    assert len(results) >= 1 and max(_iou(r["person_box"], skier["bbox"]) for r in results) > 0.7
    for result in results:
        x, y, w, h = result["person_box"]
        cx, cy, half = x + w / 2, y + h / 2, 0.7 * max(w, h * 96 / 128) * 128 / 96  # padded crop, aspect 3:4
        points = np.concatenate([np.asarray(result[field], float).reshape(-1, 3) for field, _ in PARTS.values()])
        assert len(points) == 133
        body = points[:23]  # decoded from the body heatmap, which covers the crop (part RoIs may leave it)
        assert (np.abs(body[:, 0] - cx) <= half).all() and (np.abs(body[:, 1] - cy) <= half).all()
        assert all(len(result[f"{part}_box"]) == 4 for part in ("face", "lefthand", "righthand"))
