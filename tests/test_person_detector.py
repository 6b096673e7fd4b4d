"""Person detectors (wholebody.experts.detect.person_detector) on the real fixture images.

Needs the model files from `wholebody models prepare`; without them these tests skip.
Measured on the 4 COCO-WholeBody fixture images (12 people with keypoints): MoveNet-256 12/12,
CenterNet 12/12; the assertions leave a margin of one person.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from wholebody.experts.detect.boxes import iou_xywh, letterbox, nms
from wholebody.experts.detect.person_detector import (CenterNetDetector, Detections, MoveNetDetector,
                                               make_person_detector)
from wholebody.experts.runtime import models


@pytest.fixture(scope="module")
def prepared():
    try:
        for name in models.MODELS:
            models.model_file(name)
    except models.ModelNotPreparedError as err:
        pytest.skip(f"detector models are not prepared: run `wholebody models prepare` ({err})")


@pytest.fixture(scope="module")
def movenet(prepared):
    return MoveNetDetector()


@pytest.fixture(scope="module")
def centernet(prepared):
    return CenterNetDetector()


@pytest.fixture(scope="module")
def scenes(fixtures_dir):
    """(pixels, GT boxes of people with keypoints, reference boxes with score > 0.5) per image."""
    gt = json.loads((fixtures_dir / "coco_wholebody" / "test_coco_wholebody.json").read_text())
    ref = json.loads((fixtures_dir / "coco" / "test_coco_det_AP_H_56.json").read_text())
    out = []
    for image in gt["images"]:
        people = [a["bbox"] for a in gt["annotations"] if a["image_id"] == image["id"] and a["num_keypoints"] > 0]
        reference = [d["bbox"] for d in ref if d["image_id"] == image["id"] and d["score"] > 0.5]
        pixels = np.asarray(Image.open(fixtures_dir / "coco_wholebody" / image["file_name"]).convert("RGB"))
        out.append((pixels, np.array(people, float), np.array(reference, float)))
    return out


def matched(truth: np.ndarray, found: np.ndarray) -> int:
    """Truth boxes matched one-to-one at IoU >= 0.5 (detections in score order)."""
    used = set()
    for row in iou_xywh(found, truth) if len(found) and len(truth) else []:
        free = [j for j in np.argsort(-row) if row[j] >= 0.5 and j not in used]
        used.update(free[:1])
    return len(used)


@pytest.mark.parametrize("name,max_extra", [("movenet", 1), ("centernet", 3)])
def test_recall_on_fixture_people(request, scenes, name, max_extra):
    detector = request.getfixturevalue(name)
    total = hits = extra = 0
    for pixels, people, _ in scenes:
        found = detector(pixels)
        hit = matched(people, found.boxes)
        total, hits, extra = total + len(people), hits + hit, extra + len(found) - hit
    assert total == 12
    assert hits >= 11, f"{name}: {hits}/12 fixture people found (measured 12/12)"
    assert extra <= max_extra


@pytest.mark.parametrize("name,minimum", [("movenet", 10), ("centernet", 11)])
def test_agrees_with_the_reference_detections(request, scenes, name, minimum):
    detector = request.getfixturevalue(name)
    hits = sum(matched(reference, detector(pixels).boxes) for pixels, _, reference in scenes)
    assert hits >= minimum  # of 18 reference boxes; measured 11 (MoveNet) and 13 (CenterNet)


def test_movenet_keypoints_are_in_original_pixels(movenet, scenes):
    pixels, people, _ = scenes[0]  # one skier
    found = movenet(pixels)
    assert isinstance(found, Detections) and found.keypoints.shape == (len(found), 17, 3)
    x, y, w, h = found.boxes[0]
    confident = found.keypoints[0][found.keypoints[0, :, 2] > 0.3]
    assert len(confident) >= 10
    assert np.all((confident[:, 0] >= x - 0.1 * w) & (confident[:, 0] <= x + 1.1 * w))
    assert np.all((confident[:, 1] >= y - 0.1 * h) & (confident[:, 1] <= y + 1.1 * h))
    assert iou_xywh(found.boxes[:1], people)[0, 0] > 0.8


def test_portrait_images_map_back_correctly(movenet, scenes):
    pixels, people, _ = scenes[0]  # 640x425, one skier at x 281..500
    crop = np.ascontiguousarray(pixels[:, 200:520])  # 320x425: the portrait canvas
    assert movenet.input_shape(crop.shape) == (192, 256)
    found = movenet(crop)
    assert iou_xywh(found.boxes[:1], people - [200, 0, 0, 0])[0, 0] > 0.8


def test_batch_equals_one_by_one(centernet, movenet, scenes):
    images = [scenes[1][0], scenes[2][0]]
    for detector in (centernet, movenet):
        for alone, batched in zip([detector(i) for i in images], detector.detect_batch(images)):
            np.testing.assert_allclose(batched.boxes, alone.boxes, atol=1e-3)
            np.testing.assert_allclose(batched.scores, alone.scores, atol=1e-5)
    assert centernet.detect_batch([]) == []


def test_images_without_people(movenet, centernet):
    for image in (np.zeros((480, 640, 3), np.uint8), np.full((300, 300, 3), 200, np.uint8)):
        assert len(movenet(image)) == 0 and len(centernet(image)) == 0


def test_torch_and_onnx_backends_agree(prepared, scenes):
    if not models.onnx_file("movenet-multipose", 256, 192).is_file():
        pytest.skip("no ONNX export: run `wholebody models prepare` with onnxruntime installed")
    for cls in (MoveNetDetector, CenterNetDetector):
        fast, plain = cls(backend="onnx"), cls(backend="torch")
        a, b = fast(scenes[2][0]), plain(scenes[2][0])
        np.testing.assert_allclose(a.boxes, b.boxes, atol=0.05)
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)


def test_centernet_decoder_matches_the_graph_decoder(centernet, scenes):
    tensor, geo = letterbox(scenes[2][0], 512, 512)
    graph_rows = centernet.graph_model().run({"tower_0/images": tensor}, ["tower_0/detections"])[0][0].numpy()
    person = graph_rows[(graph_rows[:, 5] == 0) & (graph_rows[:, 4] >= 0.3)]
    boxes = geo.to_original(person[:, :4].reshape(-1, 2, 2)).reshape(-1, 4)
    h, w = scenes[2][0].shape[:2]
    boxes = np.clip(boxes, 0, [w, h, w, h])
    keep = nms(boxes, person[:, 4], centernet.nms_iou)
    ours = centernet(scenes[2][0])
    np.testing.assert_allclose(ours.scores, person[keep, 4], atol=1e-4)
    np.testing.assert_allclose(ours.boxes[:, :2], boxes[keep, :2], atol=0.05)


def test_missing_models_give_the_prepare_command(tmp_path, prepared):
    with pytest.raises(models.ModelNotPreparedError, match=r"movenet-multipose\.json is missing.*"
                                                           r"wholebody models prepare --dir"):
        MoveNetDetector(model_dir=tmp_path)
    for name in models.MODELS["movenet-multipose"].files:  # graph present, no ONNX export
        shutil.copy(models.model_file("movenet-multipose").parent / name, tmp_path / name)
    with pytest.raises(models.ModelNotPreparedError, match=r"movenet-multipose-256x192\.onnx"):
        MoveNetDetector(model_dir=tmp_path, backend="onnx")(np.zeros((48, 64, 3), np.uint8))
    assert len(MoveNetDetector(model_dir=tmp_path)(np.zeros((48, 64, 3), np.uint8))) == 0  # auto: torch


def test_factory_and_argument_checks(prepared):
    assert isinstance(make_person_detector(), MoveNetDetector)
    assert isinstance(make_person_detector("centernet", score_threshold=0.5), CenterNetDetector)
    with pytest.raises(ValueError, match="unknown person detector"):
        make_person_detector("yolo")
    with pytest.raises(ValueError, match="multiple of 32"):
        MoveNetDetector(input_size=250)
    with pytest.raises(ValueError, match="backend"):
        MoveNetDetector(backend="tflite")
    assert MoveNetDetector(input_size=320).input_shape((480, 640)) == (320, 256)
