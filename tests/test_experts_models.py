"""Model files, detection adapters, the BlazePose detector and the face expert on real images."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wholebody.experts.detect.detections import Detections, as_detections


def test_as_detections_reads_tuples_dicts_and_objects():
    boxes, scores = np.array([[1.0, 2.0, 3.0, 4.0]]), np.array([0.5])
    for result in ((boxes, scores), {"boxes": boxes, "scores": scores}, Detections(boxes, scores)):
        det = as_detections(result)
        np.testing.assert_allclose(det.boxes, boxes)
        np.testing.assert_allclose(det.scores, scores)
    with pytest.raises(TypeError, match="boxes and scores"):
        as_detections(42)
    with pytest.raises(ValueError, match="1 boxes but 2 scores"):
        Detections(boxes, np.array([0.1, 0.2]))


mediapipe = pytest.importorskip("mediapipe", reason="the part experts need mediapipe==0.10.14's bundled models")
pytest.importorskip("ai_edge_litert", reason="the part experts run the models with ai-edge-litert")

from wholebody.experts.benchmark import read_rgb  # noqa: E402
from wholebody.experts.crops import crop_from_box  # noqa: E402
from wholebody.experts.detect import people as people_module  # noqa: E402
from wholebody.experts.detect.blazepose_detector import BlazePoseDetector  # noqa: E402
from wholebody.experts.landmarks.face import FaceExpert, _nearest_is_own  # noqa: E402
from wholebody.experts.runtime.tflite import MODEL_FILES, TFLiteModel, model_path  # noqa: E402


def test_every_bundled_model_is_found_and_unknown_names_fail():
    for name in MODEL_FILES:
        assert model_path(name).is_file()
    with pytest.raises(KeyError, match="unknown MediaPipe model"):
        model_path("pose_landmark_heavy")
    assert TFLiteModel("face_landmark").input_size == 192


def test_blazepose_detector_finds_the_single_person(fixtures_dir):
    folder = fixtures_dir / "coco_wholebody"
    ann = next(a for a in json.loads((folder / "test_coco_wholebody.json").read_text())["annotations"] if a["image_id"] == 785)
    found = BlazePoseDetector()(read_rgb(folder / "000000000785.jpg"))
    assert len(found.scores) == 1 and found.scores[0] > 0.5
    x, y, w, h = ann["bbox"]
    centre = found.boxes[0, :2] + found.boxes[0, 2:] / 2
    assert x < centre[0] < x + w and y < centre[1] < y + h
    assert found.keypoints.shape == (1, 4, 2)


def test_default_detector_falls_back_to_blazepose(monkeypatch):
    def not_prepared(*args, **kwargs):
        raise FileNotFoundError("movenet-multipose.json is missing")

    import wholebody.experts.detect.person_detector as person_detector

    monkeypatch.setattr(person_detector, "make_person_detector", not_prepared)
    assert isinstance(people_module.default_person_detector(), BlazePoseDetector)


def test_face_mesh_on_300w_faces_is_accurate(fixtures_dir):
    """Normalised mean error (by outer-eye-corner distance) below 0.08 on both 300-W faces."""
    folder = fixtures_dir / "300w"
    data = json.loads((folder / "test_300w.json").read_text())
    expert = FaceExpert()
    for ann in data["annotations"]:
        image = next(i for i in data["images"] if i["id"] == ann["image_id"])
        truth = np.array(ann["keypoints"]).reshape(68, 3)[:, :2]
        face = expert(read_rgb(folder / image["file_name"]), crop_from_box(np.array(ann["bbox"]), 1.3, 192))
        nme = np.linalg.norm(face.ibug68() - truth, axis=1).mean() / np.linalg.norm(truth[36] - truth[45])
        assert face.presence > 0.9 and nme < 0.08, (image["file_name"], nme)


def test_face_fallback_ignores_faces_nearer_another_head():
    own, others = np.array([0.0, 0.0]), np.array([[100.0, 0.0]])
    assert _nearest_is_own(np.array([30.0, 5.0]), own, others)
    assert not _nearest_is_own(np.array([70.0, 5.0]), own, others)
