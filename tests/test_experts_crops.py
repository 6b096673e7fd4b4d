"""Square crops: the crop <-> original pixel maps are exact inverses and match the resampling."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wholebody.experts.crops import SquareCrop, angle_for_up, box_of_points, crop_from_box

cv2 = pytest.importorskip("cv2", reason="OpenCV resamples the crops")


@pytest.mark.parametrize("angle", [0.0, 0.4, -1.2, math.pi])
def test_to_crop_and_to_image_are_inverse(angle):
    crop = SquareCrop(center=(123.4, 56.7), side=80.0, angle=angle, size=224)
    points = np.random.default_rng(0).uniform(-50, 300, size=(40, 2))
    np.testing.assert_allclose(crop.to_image(crop.to_crop(points)), points, atol=1e-9)


def test_centre_and_corners_map_as_documented():
    crop = SquareCrop(center=(100.0, 50.0), side=40.0, angle=0.0, size=200)
    np.testing.assert_allclose(crop.to_image(np.array([100.0, 100.0])), [100.0, 50.0])
    np.testing.assert_allclose(crop.to_image(np.array([0.0, 0.0])), [80.0, 30.0])
    assert crop.scale == pytest.approx(0.2)


def test_rotated_crop_up_axis_points_along_direction():
    direction = np.array([1.0, 0.0])  # the crop's "up" is image +x
    crop = SquareCrop(center=(0.0, 0.0), side=10.0, angle=angle_for_up(direction), size=10)
    top_centre = crop.to_image(np.array([5.0, 0.0]))  # middle of the crop's top edge
    np.testing.assert_allclose(top_centre, [5.0, 0.0], atol=1e-12)


def test_angle_for_up_is_zero_for_image_up():
    assert angle_for_up(np.array([0.0, -3.0])) == pytest.approx(0.0)
    assert angle_for_up(np.array([0.0, 0.0])) == 0.0


@pytest.mark.parametrize("angle", [0.0, 0.7])
def test_extract_puts_a_dot_where_to_crop_says(angle):
    """A bright blob at a sub-pixel spot lands at ``to_crop`` of that spot (half-pixel exact)."""
    image = np.zeros((120, 160, 3), np.float32)
    spot = np.array([70.3, 41.8])  # continuous (corner) coordinates
    ys, xs = np.mgrid[0:120, 0:160] + 0.5  # pixel centres
    image[..., 0] = np.exp(-((xs - spot[0]) ** 2 + (ys - spot[1]) ** 2) / (2 * 2.0**2))
    crop = SquareCrop(center=(75.0, 45.0), side=40.0, angle=angle, size=160)
    patch = cv2.warpAffine(image, crop.affine_to_crop(), (crop.size, crop.size), flags=cv2.INTER_LINEAR)[..., 0]
    v, u = np.mgrid[0:160, 0:160] + 0.5
    found = np.array([(patch * u).sum(), (patch * v).sum()]) / patch.sum()
    np.testing.assert_allclose(found, crop.to_crop(spot), atol=0.05)
    np.testing.assert_allclose(crop.to_image(found), spot, atol=0.02)


def test_extract_outside_the_image_is_black():
    image = np.full((20, 20, 3), 200, np.uint8)
    out = SquareCrop(center=(-100.0, -100.0), side=10.0, angle=0.0, size=16).extract(image)
    assert out.shape == (16, 16, 3) and out.max() == 0


def test_crop_from_box_and_box_of_points():
    crop = crop_from_box(np.array([10.0, 20.0, 30.0, 60.0]), scale=1.5, size=256)
    assert crop.center == (25.0, 50.0) and crop.side == pytest.approx(90.0) and crop.size == 256
    points = np.array([[1.0, 2.0], [5.0, -1.0], [100.0, 100.0]])
    np.testing.assert_allclose(box_of_points(points, valid=[True, True, False]), [1.0, -1.0, 4.0, 3.0])
    assert box_of_points(points, valid=[False, False, False]) is None
