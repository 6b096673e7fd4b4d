"""Video carry-over of tilted and upside-down people: the carried crop is turned by the person's
body angle (wholebody.experts.assemble.carry.carried_body, crops.SquareCrop), and the person found
in a carried box keeps the track id it was carried from (carry_over.CarryOver, PersonTracker's hint)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from fake_estimator import person_in_box

from wholebody.experts.assemble.carry import body_angle, carried_body
from wholebody.experts.crops import SquareCrop
from wholebody.carry_over import CarryOver
from wholebody.track import PersonTracker

SPORTS2D = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "videos" / "sports2d_demo.mp4"


@pytest.mark.parametrize("degrees", [0.0, 90.0, 180.0, -60.0, 143.0])
def test_a_turned_crop_maps_a_spot_back_to_its_original_pixels(degrees):
    # A bright spot at a known sub-pixel place; its centroid in the turned crop, mapped back with
    # to_image, must land on the same place (no half-pixel or rotation drift).
    height, width = 200, 300
    spot = np.array([171.3, 88.6])
    ys, xs = np.mgrid[0:height, 0:width] + 0.5  # pixel centres, COCO continuous convention
    image = np.exp(-((xs - spot[0]) ** 2 + (ys - spot[1]) ** 2) / (2 * 3.0 ** 2))
    image = np.repeat((255 * image).astype(np.uint8)[:, :, None], 3, axis=2)
    crop = SquareCrop(center=(160.0, 95.0), side=80.0, angle=math.radians(degrees), size=128)
    pixels = crop.extract(image)[:, :, 0].astype(np.float64)
    v, u = np.mgrid[0:crop.size, 0:crop.size] + 0.5
    centroid = np.array([(pixels * u).sum(), (pixels * v).sum()]) / pixels.sum()
    np.testing.assert_allclose(crop.to_image(centroid), spot, atol=0.05)
    np.testing.assert_allclose(crop.to_crop(crop.to_image(centroid)), centroid, atol=1e-9)


def test_body_angle_is_zero_upright_and_pi_upside_down():
    upright = person_in_box(np.array([100.0, 50.0, 60.0, 150.0])).keypoints
    assert abs(body_angle(upright)) < 1e-9
    flipped = upright.copy()
    flipped[:, 1] = 400.0 - flipped[:, 1]  # mirrored top to bottom: head down
    assert abs(abs(body_angle(flipped)) - math.pi) < 1e-9
    unsure = upright.copy()
    unsure[11, 2] = 0.1  # a hip below the score floor: no angle
    assert math.isnan(body_angle(unsure))


def _sports2d_frame(index: int) -> np.ndarray:
    """Frame ``index`` of the sports2d demo as RGB, resized to 960 px (as benchmarks/people_video.py)."""
    cv2 = pytest.importorskip("cv2")
    if not SPORTS2D.is_file():
        pytest.skip(f"sports2d demo video not found at {SPORTS2D} (../shared/media beside the repo)")
    capture = cv2.VideoCapture(str(SPORTS2D))
    for _ in range(index + 1):  # read, not seek: seeking in an mp4 may land on another frame
        ok, bgr = capture.read()
        assert ok, f"frame {index} not readable"
    scale = 960 / max(bgr.shape[:2])
    bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(bgr[:, :, ::-1])


@pytest.fixture(scope="module")
def estimator():
    from wholebody.experts import WholeBodyEstimator
    from wholebody.experts.runtime.models import ModelNotPreparedError

    try:
        return WholeBodyEstimator(face=None, hand_zoom=False, num_threads=1, part_detect=False)
    except (ImportError, ModelNotPreparedError) as err:
        pytest.skip(f"models not prepared: {err}")


def test_the_upside_down_woman_is_found_turned_and_her_points_map_back(estimator):
    # The walking woman of frame 100, and the same frame turned upside down: her carried box, turned
    # by her body angle (pi), gives her points at the turned places of the upright ones.
    image = _sports2d_frame(100)
    people = estimator(image)
    woman = max(people, key=lambda p: p.bbox[1])  # lowest in the frame: the man stands on the box
    box = woman.bbox
    height, width = image.shape[:2]
    turned_image = np.ascontiguousarray(image[::-1, ::-1])
    turned_box = np.array([width - box[0] - box[2], height - box[1] - box[3], box[2], box[3]])

    def run(crop_box, angle):
        return estimator._body_person(turned_image, crop_box, None, angle=angle)

    found, body = carried_body(run, turned_box, body_angle(woman.keypoints) + math.pi, turned_image.shape)
    assert found is not None and body.score >= 0.5
    expected = np.stack([width - woman.keypoints[:17, 0], height - woman.keypoints[:17, 1]], axis=1)
    sure = (woman.keypoints[:17, 2] > 0.5) & (found.keypoints[:17, 2] > 0.5)
    assert sure.sum() >= 8
    error = np.hypot(*(found.keypoints[:17, :2][sure] - expected[sure]).T)
    assert np.median(error) < 0.03 * box[3], error  # 3 % of her height: the same pose, mapped back


def test_the_man_upside_down_in_his_flip_is_found_only_with_turns(estimator):
    # Frame 171 of the sports2d demo: the man upside down in mid-flip against the sun.  His box and
    # body angle are the carry-over of the run (benchmarks/people_video.py): 82 degrees, the last
    # usable angle, a turn behind him.  The crop at that angle alone finds nobody; a turn does.
    image = _sports2d_frame(171)
    box = np.array([395.0, 108.0, 152.0, 125.0])

    def run(crop_box, angle):
        return estimator._body_person(image, crop_box, None, angle=angle)

    with_turns, body = carried_body(run, box, math.radians(82.0), image.shape)
    assert with_turns is not None and body.score >= 0.5
    assert abs(body_angle(with_turns.keypoints)) > math.radians(90)  # found head down
    without, body = carried_body(run, box, float("nan"), image.shape)  # no angle: one upright crop
    assert without is None or body.score < 0.5
    at_last_angle = run(box, math.radians(82.0))
    assert at_last_angle[0] is None or at_last_angle[1].score < 0.5


def test_a_box_of_a_person_already_found_under_the_same_track_is_not_run():
    calls = []

    def run(crop_box, angle):
        calls.append(angle)
        return None, None

    found = [person_in_box(np.array([100.0, 20.0, 60.0, 150.0]))]
    found[0].track_id = 3
    assert carried_body(run, np.array([90.0, 10.0, 80.0, 170.0]), 0.0, (480, 640), 3, found) == (None, None)
    assert calls == []


def test_carry_over_gives_ids_and_the_last_usable_angle():
    carry = CarryOver()
    man = person_in_box(np.array([100.0, 20.0, 60.0, 150.0]))
    man.keypoints[:, 0] = 260.0 - man.keypoints[:, 0]
    man.keypoints[:, 1] = 190.0 - man.keypoints[:, 1]  # head down
    man.track_id = 7
    boxes, scores, angles, ids = carry.update([man], 0)
    assert ids.tolist() == [7] and abs(abs(angles[0]) - math.pi) < 1e-6
    man.keypoints[[5, 6, 11, 12], 2] = 0.05  # shoulders and hips unsure in the next frame
    boxes, scores, angles, ids = carry.update([man], 1)
    assert ids.tolist() == [7] and abs(abs(angles[0]) - math.pi) < 1e-6  # the last usable one
    stranger = person_in_box(np.array([300.0, 20.0, 60.0, 150.0]))
    stranger.keypoints[[5, 6, 11, 12], 2] = 0.05
    boxes, scores, angles, ids = carry.update([stranger], 2)  # untracked, no angle yet
    assert ids[0] == -1 and np.isnan(angles[0])


def test_a_carried_person_keeps_the_id_of_the_track_it_was_carried_from():
    tracker = PersonTracker()
    man = person_in_box(np.array([100.0, 20.0, 60.0, 150.0]))
    woman = person_in_box(np.array([400.0, 20.0, 60.0, 150.0]))
    tracker.update([man, woman], 0)
    # Mid-flip: his box and pose changed too much to match (lying, head down), but the estimator
    # found him in the box carried from his track.
    flipping = person_in_box(np.array([80.0, 90.0, 150.0, 60.0]))
    flipping.keypoints[:, 1] = 240.0 - flipping.keypoints[:, 1]
    unhinted = PersonTracker()
    unhinted.update([person_in_box(np.array([100.0, 20.0, 60.0, 150.0]))], 0)
    assert unhinted.update([flipping], 1)[0].track_id != 1  # without the hint: a new id
    flipping.track_id = man.track_id
    tracker.update([flipping], 1)
    assert flipping.track_id == man.track_id

def test_an_id_hint_never_takes_a_track_a_better_match_took_nor_one_far_away():
    tracker = PersonTracker()
    man = person_in_box(np.array([100.0, 20.0, 60.0, 150.0]))
    woman = person_in_box(np.array([400.0, 20.0, 60.0, 150.0]))
    tracker.update([man, woman], 0)
    again = person_in_box(np.array([101.0, 21.0, 60.0, 150.0]))  # the man, detected
    ghost = person_in_box(np.array([110.0, 120.0, 40.0, 40.0]))  # his legs again, from a carried box
    ghost.track_id = man.track_id
    far = person_in_box(np.array([900.0, 20.0, 60.0, 150.0]))  # a carried box's find, far from her
    far.track_id = woman.track_id
    tracker.update([ghost, again, far], 1)
    assert again.track_id == man.track_id and ghost.track_id not in (man.track_id, woman.track_id)
    assert far.track_id != woman.track_id


def test_a_person_with_few_sure_points_is_carried_in_the_box_of_all_body_points():
    # The sports2d man in glare: two sure points 30 px apart, the rest of his body unsure.  A box
    # around the two sure ones (33 x 20 px) never found him again; the box of all 23 points does.
    from wholebody.carry_over import carry_boxes

    man = person_in_box(np.array([100.0, 20.0, 60.0, 150.0]))
    man.keypoints[:23, 2] = 0.1
    man.keypoints[[5, 6], 2] = 0.9
    boxes, _ = carry_boxes([man])
    x, y, w, h = boxes[0]
    body = man.keypoints[:23, :2]
    assert x <= body[:, 0].min() and y <= body[:, 1].min()
    assert x + w >= body[:, 0].max() and y + h >= body[:, 1].max()
    hand_only = person_in_box(np.array([300.0, 20.0, 40.0, 40.0]))
    hand_only.keypoints[:23] = 0.0  # no body: a hand found alone keeps its own box
    np.testing.assert_allclose(carry_boxes([hand_only])[0][0], hand_only.bbox)


def test_a_video_carried_box_that_finds_part_of_someone_found_is_dropped():
    # A lost box of the landing man (sports2d, frames 207-214) found his legs again: a second person.
    from types import SimpleNamespace

    man = person_in_box(np.array([100.0, 20.0, 60.0, 150.0]))
    man.track_id = 4
    legs = person_in_box(np.array([100.0, 20.0, 60.0, 150.0]))
    legs.keypoints[:11, 2] = 0.0  # head, shoulders and arms unseen: only his hips and legs
    body = SimpleNamespace(score=0.9)
    box = np.array([95.0, 90.0, 70.0, 90.0])
    person, _ = carried_body(lambda crop_box, angle: (legs, body), box, 0.0, (480, 640), 2, [man])
    assert person is None
    stranger = person_in_box(np.array([300.0, 20.0, 60.0, 150.0]))
    person, _ = carried_body(lambda crop_box, angle: (stranger, body), box, 0.0, (480, 640), 2, [man])
    assert person is stranger and person.track_id == 2


def test_a_lost_box_is_dropped_once_its_person_is_found_far_from_it():
    # The sports2d man crouched on landing, then ran on: the box where he crouched found his legs
    # again as a second person.  A box the person left nearby is still retried (they may vanish again).
    carry = CarryOver()

    def man(x, y):
        person = person_in_box(np.array([x, y, 60.0, 150.0]))
        person.track_id = 5
        return person

    carry.update([man(100, 20)], 0)
    boxes, *_ = carry.update([man(130, 60)], 1)  # moved, but near: the old box is kept as a lost one
    assert len(boxes) == 2
    boxes, _, _, ids = carry.update([man(400, 60)], 2)  # found far away: his lost boxes go
    assert len(boxes) == 1 and ids.tolist() == [5] and boxes[0][0] > 300
