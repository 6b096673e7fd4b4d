"""Top-down crop geometry: padding/aspect, affine round trips, image warping, flips, augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wholebody.data.cocowb import load_ground_truth
from wholebody.schema import PART_SLICES
from wholebody.models.zoomnet.transforms import (
    AugmentConfig, CropGeometry, apply_affine, box_to_center_size, crop_matrix, invert_affine, keypoints_to_original,
    sample_geometry, transform_keypoints, transform_part_valid, warp_image, warp_image_uint8,
)

torch.set_num_threads(1)


def geometry(flip: bool, rotation: float = 0.0, center=(50.0, 60.0), size=(30.0, 40.0), out=(80, 60)) -> CropGeometry:
    center, size = np.array(center), np.array(size)
    return CropGeometry(center, size, rotation, flip, out, crop_matrix(center, size, rotation, out, flip))


def test_box_padded_to_crop_aspect():
    center, size = box_to_center_size((10, 20, 30, 80), aspect=0.75)  # tall box: width grows to 60
    assert np.allclose(center, [25, 60]) and np.allclose(size, [60 * 1.25, 80 * 1.25])
    center, size = box_to_center_size((0, 0, 90, 40), aspect=0.75)  # wide box: height grows to 120
    assert np.allclose(size, [90 * 1.25, 120 * 1.25])


def test_crop_matrix_maps_rectangle_to_crop():
    g = geometry(flip=False)
    corners = np.array([[35.0, 40.0], [65.0, 80.0], [50.0, 60.0]])  # rectangle corners and centre
    assert np.allclose(apply_affine(corners, g.matrix), [[0, 0], [60, 80], [30, 40]])
    mirrored = geometry(flip=True)
    assert np.allclose(apply_affine(corners, mirrored.matrix), [[60, 0], [0, 80], [30, 40]])
    turned = geometry(flip=False, rotation=90.0, size=(40.0, 40.0), out=(40, 40))
    # content turns counter-clockwise: a point right of the centre moves up in the crop
    assert np.allclose(apply_affine(np.array([[60.0, 60.0]]), turned.matrix), [[20, 10]])


@pytest.mark.parametrize("flip", [False, True])
def test_affine_round_trip(flip):
    g = geometry(flip, rotation=23.0)
    points = np.random.default_rng(0).uniform(0, 100, (50, 2))
    assert np.allclose(apply_affine(apply_affine(points, g.matrix), invert_affine(g.matrix)), points)
    crop_points = np.concatenate([apply_affine(points, g.matrix), np.full((50, 1), 0.7)], axis=1)
    restored = keypoints_to_original(crop_points, g.matrix)  # scores ride along unchanged
    assert np.allclose(restored[:, :2], points) and np.allclose(restored[:, 2], 0.7)


def test_warp_image_puts_original_pixels_where_the_matrix_says():
    image = np.zeros((100, 120, 3), dtype=np.uint8)
    image[30, 40] = (255, 128, 7)  # pixel centre at (40.5, 30.5)
    matrix = crop_matrix(np.array([50.0, 40.0]), np.array([60.0, 80.0]), 0.0, (80, 60))  # scale 1, shift only
    crop = warp_image(image, matrix, (80, 60))
    x, y = apply_affine(np.array([40.5, 30.5]), matrix) - 0.5  # crop pixel index
    assert crop.shape == (3, 80, 60)
    assert torch.allclose(crop[:, int(y), int(x)], torch.tensor([255.0, 128.0, 7.0]))
    assert crop.sum() == pytest.approx(255 + 128 + 7, abs=0.01)  # nothing else is lit


def test_uint8_warp_is_the_rounded_warp_on_a_real_photo(fixtures_dir):
    """Random crops of a fixture photo, inside it, across its edges and beside it (all black)."""
    from wholebody.data.images import read_image

    image = read_image(sorted((fixtures_dir / "coco_wholebody").glob("*.jpg"))[0])
    rng = np.random.default_rng(0)
    differing = total = 0
    for i in range(40):
        box = (rng.uniform(-150, 650), rng.uniform(-150, 450), rng.uniform(10, 500), rng.uniform(10, 500))
        if i == 0:
            box = (5000.0, 5000.0, 50.0, 80.0)  # far outside the image
        center, size = box_to_center_size(box, 0.75)
        matrix = crop_matrix(center, size, rng.uniform(-80, 80), (96, 72), flip=bool(i % 2))
        fast, exact = warp_image_uint8(image, matrix, (96, 72)), warp_image(image, matrix, (96, 72))
        assert fast.dtype == torch.uint8 and fast.shape == (3, 96, 72)
        assert (fast.float() - exact).abs().max() <= 0.52
        differing += int((fast != exact.round().to(torch.uint8)).sum())
        total += fast.numel()
        if i == 0:
            assert not fast.any()
    assert differing / total < 1e-3  # one level apart only where the exact value sits on .5


def test_flip_twice_is_identity():
    rng = np.random.default_rng(1)
    keypoints = np.concatenate([rng.uniform(0, 100, (133, 2)), rng.integers(0, 3, (133, 1))], axis=1)
    once = transform_keypoints(keypoints, geometry(flip=True))
    # flipping the crop again: mirror x inside the 60-pixel-wide crop and relabel once more
    again = transform_keypoints(once, CropGeometry(None, None, 0.0, True, (80, 60),
                                                   np.array([[-1.0, 0, 60], [0, 1, 0]])))
    assert np.allclose(again, transform_keypoints(keypoints, geometry(flip=False)))


def test_flip_of_a_labelled_person_swaps_hand_blocks(fixtures_dir):
    gt = load_ground_truth(fixtures_dir / "coco_wholebody" / "test_coco_wholebody.json")
    row = int(np.flatnonzero(gt.ann_ids == 198196)[0])  # left hand labelled, right hand not
    keypoints = gt.keypoints[row]
    g = geometry(flip=True, center=keypoints[:17, :2][keypoints[:17, 2] > 0].mean(axis=0), size=(200, 266))
    flipped = transform_keypoints(keypoints, g)
    left, right = PART_SLICES["lefthand"], PART_SLICES["righthand"]
    assert (keypoints[left, 2] > 0).all() and not (keypoints[right, 2] > 0).any()
    assert (flipped[right, 2] > 0).all() and not (flipped[left, 2] > 0).any()
    assert np.allclose(flipped[right, :2], apply_affine(keypoints[left, :2], g.matrix))
    assert np.allclose(flipped[10, :2], apply_affine(keypoints[9, :2], g.matrix))  # left wrist -> right wrist
    valid = {p: bool(f[row]) for p, f in gt.part_valid.items()}
    swapped = transform_part_valid(valid, flip=True)
    assert swapped["righthand"] == valid["lefthand"] and swapped["lefthand"] == valid["righthand"]


def test_augmentation_is_seeded_and_plain_without_rng():
    keypoints = np.concatenate([np.random.default_rng(2).uniform(50, 150, (133, 2)), np.ones((133, 1))], axis=1)
    box = (40, 30, 120, 160)
    plain = sample_geometry(box, keypoints, (256, 192), AugmentConfig(), None)
    center, size = box_to_center_size(box, 0.75)
    assert np.allclose(plain.center, center) and np.allclose(plain.size, size) and not plain.flip
    a = sample_geometry(box, keypoints, (256, 192), AugmentConfig(), np.random.default_rng(7))
    b = sample_geometry(box, keypoints, (256, 192), AugmentConfig(), np.random.default_rng(7))
    assert np.array_equal(a.matrix, b.matrix)
    draws = [sample_geometry(box, keypoints, (256, 192), AugmentConfig(), np.random.default_rng(s)) for s in range(40)]
    assert any(d.flip for d in draws) and not all(d.flip for d in draws)
    assert any(d.rotation != 0 for d in draws)
    assert all(abs(d.rotation) <= 80 for d in draws)
    none = [sample_geometry(box, keypoints, (256, 192), AugmentConfig.none(), np.random.default_rng(s)) for s in range(5)]
    assert all(np.allclose(d.matrix, plain.matrix) for d in none)
