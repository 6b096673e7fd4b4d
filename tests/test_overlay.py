"""draw_people on the real COCO-WholeBody fixture images: skeleton, boxes, labels, thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from wholebody.data.cocowb import load_ground_truth
from wholebody.data.images import read_image
from wholebody.schema import PART_COLORS, PART_SLICES
from wholebody.types import Person
from wholebody.viz.overlay import draw_people, style_for, track_color


def _ground_truth_people(fixtures_dir, image_id: int) -> tuple[np.ndarray, list[Person]]:
    """The fixture image and its labelled people as Person objects (score 1 where labelled)."""
    folder = fixtures_dir / "coco_wholebody"
    gt = load_ground_truth(folder / "test_coco_wholebody.json")
    image = read_image(folder / gt.images[image_id]["file_name"])
    people = []
    for ann in gt.people():
        if ann.image_id != image_id:
            continue
        keypoints = ann.keypoints.copy()
        keypoints[:, 2] = (keypoints[:, 2] > 0).astype(float)
        boxes = {p: (ann.part_boxes[p] if ann.part_valid[p] else None) for p in ("face", "lefthand", "righthand")}
        people.append(Person(keypoints=keypoints, score=1.0, bbox=ann.bbox, part_boxes=boxes))
    return image, people


def _color_near(image: np.ndarray, x: float, y: float, color, radius: int = 2) -> bool:
    """Whether ``color`` (RGB) appears within ``radius`` px of (x, y)."""
    xi, yi = int(round(x)), int(round(y))
    patch = image[max(yi - radius, 0):yi + radius + 1, max(xi - radius, 0):xi + radius + 1].reshape(-1, 3)
    return bool((np.abs(patch.astype(int) - color).max(axis=1) <= 3).any())


def test_ground_truth_overlay_draws_every_labelled_point(fixtures_dir):
    image, people = _ground_truth_people(fixtures_dir, 197388)  # person 0: every part labelled
    before = image.copy()
    out = draw_people(image, people)
    np.testing.assert_array_equal(image, before)  # the input is not modified
    assert out.shape == image.shape and out.dtype == np.uint8
    person = people[0]
    for part in ("foot", "face", "lefthand", "righthand"):
        labelled = person.part(part)[person.part(part)[:, 2] > 0]
        assert len(labelled), part
        hits = [_color_near(out, x, y, PART_COLORS[part]) for x, y, _ in labelled]
        assert np.mean(hits) > 0.8, part  # neighbours may overdraw a few points of their part



def test_part_boxes_have_their_colour_and_a_dark_rim(fixtures_dir):
    image, people = _ground_truth_people(fixtures_dir, 197388)
    boxes = people[0].part_boxes
    only_boxes = Person(keypoints=np.zeros((133, 3)), score=1.0, part_boxes=boxes)
    out = draw_people(image, [only_boxes])
    for part in ("face", "lefthand", "righthand"):
        x, y, w, h = (int(round(v)) for v in boxes[part])
        assert (np.abs(out[y, x + w // 2].astype(int) - PART_COLORS[part]) <= 1).all(), part  # top edge
        assert (out[y - 1, x + w // 2] <= 25).all(), part  # dark rim just outside


def test_points_at_or_below_the_threshold_are_not_drawn(fixtures_dir):
    image, people = _ground_truth_people(fixtures_dir, 785)
    hidden = Person(keypoints=people[0].keypoints * [1, 1, 0.3], score=1.0)  # every score = 0.3
    np.testing.assert_array_equal(draw_people(image, [hidden], score_thr=0.3), image)
    assert (draw_people(image, [hidden], score_thr=0.29) != image).any()


def test_track_label_is_drawn_above_the_box(fixtures_dir):
    image, people = _ground_truth_people(fixtures_dir, 197388)
    for track_id, person in enumerate(people, start=1):
        person.track_id = track_id
    out = draw_people(image, people)
    for person in people:
        x, y = person.bbox[:2]
        label_area = out[max(int(y) - 12, 0):int(y) + 12, int(x):int(x) + 20].reshape(-1, 3)
        assert (np.abs(label_area.astype(int) - track_color(person.track_id)).max(axis=1) <= 1).any()


def test_sizes_grow_with_the_image():
    small, large = style_for(480, 640), style_for(1920, 2560)
    assert small.body_width == 3 and large.body_width == 12
    assert large.font_size > small.font_size and large.hand_radius > small.hand_radius
    tiny = style_for(60, 80)
    assert tiny.body_width >= 2 and tiny.face_width >= 1


def test_track_colors_differ():
    colors = {track_color(i) for i in range(1, 9)}
    assert len(colors) == 8


@pytest.mark.parametrize("image_id", [785, 40083, 196141, 197388])
def test_overlays_of_all_fixture_images(fixtures_dir, image_id):
    image, people = _ground_truth_people(fixtures_dir, image_id)
    out = draw_people(image, people)
    drawn = (out != image).any(axis=2)
    labelled = sum(int((p.keypoints[:, 2] > 0).sum()) for p in people)
    assert drawn.any() == bool(labelled or any(p.bbox is not None for p in people))
    assert drawn.mean() < 0.5  # an overlay, not a repaint
    assert set(PART_SLICES) >= {"body", "foot", "face", "lefthand", "righthand"}
