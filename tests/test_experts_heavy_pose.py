"""BlazePose heavy from the prepared TF.js graph: ONNX parity, the body expert's second pass, fallback."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

pytest.importorskip("mediapipe", reason="the part experts need mediapipe==0.10.14's bundled models")
pytest.importorskip("ai_edge_litert", reason="the part experts run the models with ai-edge-litert")

from wholebody.experts import WholeBodyEstimator  # noqa: E402
from wholebody.experts.benchmark import read_rgb  # noqa: E402
from wholebody.experts.landmarks import heavy_pose  # noqa: E402
from wholebody.experts.landmarks.body import BodyExpert, body_to_wholebody  # noqa: E402
from wholebody.experts.runtime import models  # noqa: E402


@pytest.fixture(scope="module")
def prepared():
    try:
        models.model_file(heavy_pose.MODEL_NAME)
    except models.ModelNotPreparedError as err:
        pytest.skip(f"blazepose-heavy is not prepared: run `wholebody models prepare` ({err})")


@pytest.fixture(scope="module")
def heavy(prepared):
    return heavy_pose.HeavyPoseModel()


def test_outputs_have_the_full_models_layout(heavy):
    crop = np.random.default_rng(0).random((1, 256, 256, 3), dtype=np.float32)
    landmarks, flag, world = heavy(crop)
    assert landmarks.shape == (1, 195) and flag.shape == (1, 1) and world.shape == (1, 117)
    assert 0.0 <= float(flag[0, 0]) <= 1.0


def test_onnx_export_agrees_with_the_graph_executor(heavy, tmp_path, monkeypatch):
    if heavy._runner is None:
        pytest.skip("no ONNX export of blazepose-heavy (prepared with --no-onnx or without onnxruntime)")
    monkeypatch.setattr(heavy_pose, "onnx_file", lambda *args: tmp_path / "absent.onnx")
    executor = heavy_pose.HeavyPoseModel()  # no ONNX file found: the torch executor
    assert executor._runner is None
    crop = np.random.default_rng(1).random((1, 256, 256, 3), dtype=np.float32)
    for a, b in zip(heavy(crop), executor(crop)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3 * max(1.0, float(np.abs(b).max())))


def test_heavy_second_pass_finds_the_fixture_person(prepared, fixtures_dir):
    folder = fixtures_dir / "coco_wholebody"
    ann = next(a for a in json.loads((folder / "test_coco_wholebody.json").read_text())["annotations"]
               if a["image_id"] == 785)
    image, truth = read_rgb(folder / "000000000785.jpg"), np.array(ann["keypoints"], float).reshape(17, 3)
    expert = BodyExpert(refine_model=heavy_pose.HeavyPoseModel())
    body = expert(image, np.array(ann["bbox"]))
    assert body.score > 0.5
    points23, _ = body_to_wholebody(body)
    # COCO nose, shoulders, elbows, wrists, knees, ankles (BlazePose's hips sit lower than COCO's).
    compared = [0, 5, 6, 7, 8, 9, 10, 13, 14, 15, 16]
    error = np.linalg.norm(points23[compared, :2] - truth[compared, :2], axis=1)
    assert np.median(error) < 12.0  # pixels, on a 347-px-tall person


def test_missing_heavy_model_falls_back_to_full_with_a_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(models.ENV_VAR, str(tmp_path))  # an empty model directory
    with pytest.raises(models.ModelNotPreparedError, match="wholebody models prepare"):
        heavy_pose.HeavyPoseModel()
    with caplog.at_level(logging.WARNING):
        estimator = WholeBodyEstimator(detector=lambda image: (np.zeros((0, 4)), np.zeros(0)))
    assert "BlazePose heavy unavailable" in caplog.text
    assert estimator.body.refine_model is estimator.body.model


def test_body_model_option_is_checked():
    with pytest.raises(ValueError, match="body_model"):
        WholeBodyEstimator(detector=lambda image: None, body_model="huge")
