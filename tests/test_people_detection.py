"""Person detection from several detectors, fused (wholebody.experts.detect.people)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wholebody.experts.detect.boxes import iou_xywh
from wholebody.experts.detect.detections import Detections
from wholebody.experts.detect.people import CALIBRATION, fuse_detections, same_person


def _movenet(boxes, scores):
    keypoints = np.zeros((len(boxes), 17, 3))
    for k, box in enumerate(boxes):
        keypoints[k, :, :2] = np.asarray(box[:2]) + np.asarray(box[2:]) / 2
        keypoints[k, :, 2] = 0.5
    return Detections(np.array(boxes, float), np.array(scores, float), keypoints)


def test_overlapping_boxes_of_different_detectors_are_one_person_with_movenet_points():
    movenet = _movenet([[100, 100, 50, 120]], [0.4])
    centernet = Detections(np.array([[102, 98, 50, 124], [300, 100, 50, 120]], float), np.array([0.6, 0.5]))
    fused = fuse_detections({"movenet": movenet, "centernet": centernet}, score_rule="noisy_or")
    assert len(fused.boxes) == 2
    first = int(np.argmin(fused.boxes[:, 0]))
    np.testing.assert_allclose(fused.boxes[first], [100, 100, 50, 120])  # nms keeps MoveNet's box
    assert np.isfinite(fused.keypoints[first]).all() and np.isnan(fused.keypoints[1 - first]).all()
    expected = 1 - (1 - 0.4) * (1 - CALIBRATION["centernet"] * 0.6)  # noisy-OR of both detectors
    assert fused.scores[first] == pytest.approx(expected)
    assert fused.scores[1 - first] == pytest.approx(CALIBRATION["centernet"] * 0.5)
    default = fuse_detections({"movenet": movenet, "centernet": centernet})  # MoveNet's score where it found one
    assert sorted(default.scores) == pytest.approx(sorted([0.4, CALIBRATION["centernet"] * 0.5]))


def test_wbf_averages_rectangular_boxes_and_ignores_blazepose_squares():
    movenet = _movenet([[100, 100, 50, 120]], [0.5])
    centernet = Detections(np.array([[110, 100, 50, 120]], float), np.array([0.5 / CALIBRATION["centernet"]]))
    blazepose = Detections(np.array([[60, 80, 140, 140]], float), np.array([0.9]))
    fused = fuse_detections({"movenet": movenet, "centernet": centernet, "blazepose": blazepose}, method="wbf")
    assert len(fused.boxes) == 1
    np.testing.assert_allclose(fused.boxes[0], [105, 100, 50, 120])


def test_same_person_needs_overlap_or_containment_near_the_centre():
    person = np.array([100.0, 100.0, 50.0, 120.0])
    assert same_person(person, person + [3, 0, 0, 0])
    assert same_person(person, np.array([55.0, 90.0, 140.0, 140.0]))  # a body-circle square around it
    assert not same_person(person, np.array([160.0, 100.0, 50.0, 120.0]))  # the neighbour
    assert not same_person(person, np.array([0.0, 0.0, 1000.0, 1000.0]))  # contains it, centre far away


def test_fusion_rejects_an_unknown_method():
    with pytest.raises(ValueError, match="fusion method"):
        fuse_detections({}, method="mean")


@pytest.fixture(scope="module")
def people_detector():
    from wholebody.experts.runtime.models import ModelNotPreparedError

    try:
        from wholebody.experts.detect.people import PeopleDetector

        return PeopleDetector(num_threads=1)
    except (ImportError, ModelNotPreparedError) as err:
        pytest.skip(f"person detector models not prepared: {err}")


def test_every_labelled_fixture_person_gets_a_box(people_detector, fixtures_dir):
    from PIL import Image

    data = json.loads((fixtures_dir / "coco_wholebody" / "test_coco_wholebody.json").read_text())
    found = total = 0
    for image in data["images"]:
        truth = np.array([a["bbox"] for a in data["annotations"]
                          if a["image_id"] == image["id"] and a["num_keypoints"] > 0]).reshape(-1, 4)
        rgb = np.asarray(Image.open(fixtures_dir / "coco_wholebody" / image["file_name"]).convert("RGB"))
        boxes = people_detector(rgb).boxes
        if len(truth):
            found += int((iou_xywh(truth, boxes).max(axis=1) >= 0.5).sum()) if len(boxes) else 0
            total += len(truth)
    assert total == 12 and found == total


def test_one_clear_person_runs_movenet_only_and_a_group_escalates(people_detector, fixtures_dir):
    from PIL import Image

    one = np.asarray(Image.open(fixtures_dir / "coco_wholebody" / "000000000785.jpg").convert("RGB"))
    assert len(people_detector(one).boxes) == 1
    assert set(people_detector.last_timing) == {"movenet"}
    group = np.asarray(Image.open(fixtures_dir / "coco_wholebody" / "000000196141.jpg").convert("RGB"))
    people_detector(group)
    assert set(people_detector.last_timing) == {"movenet", "tiles", "centernet", "blazepose"}
