"""Letterbox geometry, IoU and NMS (wholebody.experts.detect.boxes)."""

from __future__ import annotations

import numpy as np
import pytest

from wholebody.experts.detect.boxes import iou_xywh, letterbox, nms, xyxy_to_xywh


@pytest.mark.parametrize("keep_aspect", [True, False])
def test_letterbox_maps_back_to_original_pixels(keep_aspect):
    image = np.zeros((120, 200, 3), np.uint8)
    image[30:60, 50:90] = 255  # a white block at x 50..90, y 30..60
    tensor, geo = letterbox(image, 128, 128, keep_aspect=keep_aspect)
    assert tensor.shape == (1, 128, 128, 3)
    white = np.argwhere(tensor[0, :, :, 0].numpy() > 127)
    (y0, x0), (y1, x1) = white.min(0), white.max(0) + 1
    corners = geo.to_original(np.array([[x0, y0], [x1, y1]], float))
    np.testing.assert_allclose(corners, [[50, 30], [90, 60]], atol=2.5)
    if keep_aspect:
        assert geo.scale_x == pytest.approx(geo.scale_y, rel=0.01) and geo.pad_y > 0 and geo.pad_x == 0


def test_letterbox_rejects_non_rgb():
    with pytest.raises(ValueError, match="RGB"):
        letterbox(np.zeros((10, 10), np.uint8), 32, 32)


def test_iou_and_nms():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 5, 5]], float)
    iou = iou_xywh(boxes, boxes)
    np.testing.assert_allclose(np.diag(iou), 1)
    assert iou[0, 1] == pytest.approx(81 / 119)
    assert iou[0, 2] == 0
    xyxy = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], 1)
    np.testing.assert_array_equal(nms(xyxy, np.array([0.5, 0.9, 0.1]), 0.5), [1, 2])
    np.testing.assert_array_equal(nms(xyxy, np.array([0.5, 0.9, 0.1]), 0.7), [1, 0, 2])
    np.testing.assert_array_equal(xyxy_to_xywh(xyxy), boxes)
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).size == 0
