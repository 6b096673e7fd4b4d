"""Whole-image face and palm detectors: decoding on real fixture images, ROIs, model-file errors."""

from __future__ import annotations

import numpy as np
import pytest

from wholebody.experts.detect.palms import hand_roi
from wholebody.experts.detect.regions import letterbox_region, tile_regions
from wholebody.experts.runtime.models import ModelNotPreparedError

pytest.importorskip("ai_edge_litert")


def _rgb(path):
    import cv2

    return np.ascontiguousarray(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))


def _box_of(points: np.ndarray) -> np.ndarray:
    lo, hi = points.min(axis=0), points.max(axis=0)
    return np.concatenate([lo, hi - lo])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    lo, hi = np.maximum(a[:2], b[:2]), np.minimum(a[:2] + a[2:], b[:2] + b[2:])
    inter = float(np.prod(np.clip(hi - lo, 0, None)))
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter)


@pytest.fixture(scope="module")
def palm_detector():
    from wholebody.experts.detect.palms import PalmDetector

    return PalmDetector("full")


@pytest.fixture(scope="module")
def face_detector():
    from wholebody.experts.detect.faces import WholeImageFaceDetector

    return WholeImageFaceDetector()


def test_rhd_hand_gives_a_palm_inside_the_hand_and_a_roi_around_it(fixtures_dir, palm_detector):
    from wholebody.data.adapters.rhd import load_rhd

    for sample in load_rhd(fixtures_dir / "rhd" / "test_rhd.json"):
        truth = sample.instances[0].pose2d[sample.instances[0].visible2d]
        hand_box = _box_of(truth)
        palms = palm_detector(_rgb(sample.image_path))
        assert palms, f"no palm found in {sample.image_path.name}"
        # The best palm whose centre lies in the true hand box (a second hand may be in view).
        inside = [p for p in palms if hand_box[0] <= p.box[0] + p.box[2] / 2 <= hand_box[0] + hand_box[2]
                  and hand_box[1] <= p.box[1] + p.box[3] / 2 <= hand_box[1] + hand_box[3]]
        assert inside, f"{sample.image_path.name}: palms at {[np.round(p.box) for p in palms]}, hand at {hand_box}"
        palm = inside[0]
        assert palm.score >= 0.5
        # The palm is part of the hand: smaller than the whole hand, not a speck.
        assert 0.1 * hand_box[2:].max() < palm.box[2:].max() < 1.5 * hand_box[2:].max()
        # The wrist keypoint lies near the true wrist (hand point 0), within half the hand size.
        assert np.linalg.norm(palm.keypoints[0] - sample.instances[0].pose2d[0]) < 0.5 * hand_box[2:].max()
        # MediaPipe's hand ROI holds the wrist, the palm and most of the fingers (a stretched
        # finger tip may stick out: MediaPipe's tracking re-crop is what catches it).
        in_crop = palm.crop.to_crop(truth)
        held = ((in_crop >= 0) & (in_crop <= palm.crop.size)).all(axis=1)
        assert held[[0, 5, 9, 13, 17]].all() and held.mean() >= 0.8, held


def test_300w_face_gives_a_face_box_on_the_face(fixtures_dir, face_detector):
    from wholebody.data.adapters.face300w import load_300w

    for sample in load_300w(fixtures_dir / "300w" / "test_300w.json"):
        truth = sample.instances[0].pose2d
        faces = face_detector(_rgb(sample.image_path))
        assert faces, f"no face found in {sample.image_path.name}"
        best = max(faces, key=lambda f: _iou(f.box, _box_of(truth)))
        assert _iou(best.box, _box_of(truth)) > 0.4, (sample.image_path.name, best.box, _box_of(truth))
        # Keypoints 0 / 1 are the subject's right / left eye: near iBUG's eye centres.
        right_eye, left_eye = truth[36:42].mean(axis=0), truth[42:48].mean(axis=0)
        eye_distance = np.linalg.norm(left_eye - right_eye)
        assert np.linalg.norm(best.keypoints[0] - right_eye) < 0.3 * eye_distance
        assert np.linalg.norm(best.keypoints[1] - left_eye) < 0.3 * eye_distance
        # The mesh ROI holds the whole face.
        in_crop = best.crop.to_crop(truth)
        assert ((in_crop >= 0) & (in_crop <= best.crop.size)).all()


def test_hand_roi_points_from_wrist_to_fingers_and_is_2_6_palms_wide():
    box = np.array([100.0, 100.0, 40.0, 40.0])
    keypoints = np.zeros((7, 2))
    keypoints[0] = [120.0, 140.0]  # wrist below
    keypoints[2] = [120.0, 100.0]  # middle knuckle above: fingers up
    roi = hand_roi(box, keypoints)
    assert roi.side == pytest.approx(2.6 * 40.0)
    assert roi.angle == pytest.approx(0.0)
    assert roi.center == pytest.approx((120.0, 100.0))  # moved half a box towards the fingers
    keypoints[2] = [160.0, 140.0]  # fingers pointing right: the crop turns, its centre moves right
    roi = hand_roi(box, keypoints)
    assert roi.center == pytest.approx((140.0, 120.0))
    assert roi.to_image(np.array([[roi.size / 2, 0.0]]))[0, 0] > roi.center[0]  # crop top = image right


def test_tiles_cover_the_image_with_overlap():
    tiles = tile_regions(1280, 1920, 192)
    assert len(tiles) > 1
    side = tiles[0].side
    xs = sorted({t.center[0] for t in tiles})
    assert xs[0] - side / 2 == pytest.approx(0.0) and xs[-1] + side / 2 == pytest.approx(1920.0)
    assert min(np.diff(xs)) <= side * 2 / 3 + 1e-6
    assert len(tile_regions(480, 480, 192)) == 4
    assert tile_regions(10, 10, 192) == []
    whole = letterbox_region(480, 640, 128)
    assert whole.to_image(np.array([[0.0, 0.0], [128.0, 128.0]])) == pytest.approx(np.array([[0, -80], [640, 560]]))


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_missing_or_corrupt_detector_model_is_one_message_naming_it(tmp_path, monkeypatch, damage):
    from wholebody.experts.detect.palms import PalmDetector
    from wholebody.experts.runtime import tflite

    monkeypatch.setattr(tflite, "mediapipe_modules_dir", lambda: tmp_path)
    path = tmp_path / tflite.MODEL_FILES["palm_detection_full"]
    if damage == "corrupt":
        path.parent.mkdir(parents=True)
        path.write_bytes(b"not a flatbuffer" * 10)
    with pytest.raises(ModelNotPreparedError) as err:
        PalmDetector("full")
    message = str(err.value)
    assert str(path) in message and "wholebody models prepare" in message


def test_tiles_find_the_small_faces_of_a_coco_photo(fixtures_dir, face_detector):
    """On 000000040083 (500 x 333) both labelled faces are ~28 px: the letterboxed whole image
    (192 px input, faces ~11 px there) misses them; the tiles find both."""
    import json

    data = json.loads((fixtures_dir / "coco_wholebody" / "test_coco_wholebody.json").read_text())
    truth = [np.array(a["face_box"]) for a in data["annotations"] if a["image_id"] == 40083 and a["face_valid"]]
    image = _rgb(fixtures_dir / "coco_wholebody" / "000000040083.jpg")
    tiled = face_detector(image, tiles=True)
    for box in truth:
        assert max((_iou(f.box, box) for f in tiled), default=0.0) > 0.4, (box, [f.box for f in tiled])
    assert len(face_detector(image, tiles=False)) < len(truth)
