"""Video carry-over: a person the detector misses in a frame is re-cropped from the frame before
(wholebody.experts.assemble.carry, carry_over.carry_boxes, WholeBodyEstimator(carry=...))."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wholebody.experts.assemble.carry import add_carried
from wholebody.experts.detect.detections import Detections
from wholebody.carry_over import carry_boxes
from wholebody.track import PersonTracker


def test_only_carried_boxes_no_detection_covers_are_added():
    detected = np.array([[10.0, 10.0, 50.0, 100.0]])
    carry = (np.array([[12.0, 11.0, 50.0, 100.0], [200.0, 10.0, 50.0, 100.0]]), np.array([0.8, 0.6]))
    boxes, scores, priors, carried, angles, ids = add_carried(detected, np.array([0.9]), np.zeros((1, 17, 3)),
                                                             carry)
    assert len(boxes) == 2 and carried.tolist() == [False, True]
    np.testing.assert_allclose(boxes[1], [200.0, 10.0, 50.0, 100.0])
    assert scores[1] < 0.6 and np.isnan(priors[1]).all() and not np.isnan(priors[0]).any()
    same = add_carried(detected, np.array([0.9]), None, None)
    assert len(same[0]) == 1 and same[2] is None


class _MissingDetector:
    """The fixture person's box on frame 0 only: the detector 'misses' them afterwards."""

    def __init__(self, box):
        self.box, self.calls = box, 0

    def __call__(self, image):
        self.calls += 1
        if self.calls == 1:
            return Detections(self.box[None], np.array([0.9]), np.full((1, 17, 3), np.nan))
        return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 17, 3)))


def test_a_person_missed_by_the_detector_is_carried_with_one_track_id(fixtures_dir):
    from PIL import Image

    from wholebody.experts import WholeBodyEstimator
    from wholebody.experts.runtime.models import ModelNotPreparedError

    folder = fixtures_dir / "coco_wholebody"
    data = json.loads((folder / "test_coco_wholebody.json").read_text())
    image = next(i for i in data["images"] if i["file_name"] == "000000000785.jpg")
    box = np.array(next(a["bbox"] for a in data["annotations"] if a["image_id"] == image["id"]), float)
    still = np.asarray(Image.open(folder / image["file_name"]).convert("RGB"))
    frames = [np.roll(still, 4 * t, axis=1) for t in range(4)]  # the skier moves 4 px right a frame
    try:
        estimator = WholeBodyEstimator(detector=_MissingDetector(box), face=None, hand_zoom=False, num_threads=1)
    except (ImportError, ModelNotPreparedError) as err:
        pytest.skip(f"models not prepared: {err}")
    tracker, carry, counts, ids = PersonTracker(), None, [], set()
    for t, frame in enumerate(frames):
        people = estimator(frame, carry=carry)
        tracker.update(people, t)
        carry = carry_boxes(people)
        counts.append(len(people))
        ids |= {p.track_id for p in people}
    assert counts == [1, 1, 1, 1] and ids == {1}
    estimator._detector = _MissingDetector(box)
    assert len(estimator(frames[0])) == 1 and estimator(frames[1]) == []  # without carry-over: lost


def test_a_carried_box_on_an_empty_frame_is_dropped(fixtures_dir):
    from wholebody.experts import WholeBodyEstimator
    from wholebody.experts.runtime.models import ModelNotPreparedError

    try:
        estimator = WholeBodyEstimator(detector=_MissingDetector(np.zeros(4)), face=None, hand_zoom=False,
                                       num_threads=1)
    except (ImportError, ModelNotPreparedError) as err:
        pytest.skip(f"models not prepared: {err}")
    estimator.detector.calls = 1  # no detections at all
    empty = np.full((480, 640, 3), 90, np.uint8)
    assert estimator(empty, carry=(np.array([[200.0, 100.0, 150.0, 300.0]]), np.array([0.9]))) == []


def test_a_lost_track_keeps_its_id_when_the_person_re_enters_nearby():
    from fake_estimator import template_keypoints  # the stick figure the predict tests use
    from wholebody.types import Person

    def person(x):
        points = template_keypoints()
        points[:, :2] = points[:, :2] * [60, 150] + [x, 40]
        return Person(keypoints=points, score=0.9, bbox=np.array([x, 40.0, 60.0, 150.0]))

    tracker = PersonTracker()
    for t in range(5):
        tracker.update([person(100 + 3 * t)], t)
    back = tracker.update([person(115)], 40)  # gone for 35 frames (behind a tree), back where he left
    assert back[0].track_id == 1
