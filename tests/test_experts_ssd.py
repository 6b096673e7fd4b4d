"""SSD anchors, decoding and weighted NMS shared by the BlazePose and BlazeFace detectors."""

from __future__ import annotations

import numpy as np
import pytest

from wholebody.experts.detect.ssd import decode_ssd, ssd_anchors, weighted_nms


@pytest.mark.parametrize("size, strides, count", [(224, (8, 16, 32, 32, 32), 2254), (128, (8, 16, 16, 16), 896),
                                                  (192, (8, 16, 16, 16), 2016)])
def test_anchor_counts_match_the_model_outputs(size, strides, count):
    anchors = ssd_anchors(size, strides)
    assert anchors.shape == (count, 2)
    assert anchors.min() > 0 and anchors.max() < 1


def test_anchors_of_merged_layers_are_interleaved_per_cell():
    anchors = ssd_anchors(128, (8, 16, 16, 16))
    first_coarse = 16 * 16 * 2
    np.testing.assert_allclose(anchors[:2], [[0.5 / 16, 0.5 / 16]] * 2)
    np.testing.assert_allclose(anchors[first_coarse:first_coarse + 6], [[0.5 / 8, 0.5 / 8]] * 6)
    np.testing.assert_allclose(anchors[first_coarse + 6], [1.5 / 8, 0.5 / 8])


def test_decode_adds_anchor_centres_and_scales_by_input_size():
    anchors = np.array([[0.25, 0.5], [0.75, 0.5]])
    raw = np.zeros((1, 2, 8))
    raw[0, 0] = [10, 20, 40, 80, 0, 0, 100, 0]  # offsets in 200-px input units
    logits = np.array([[[3.0], [-3.0]]])
    scores, corners, keypoints = decode_ssd(raw, logits, anchors, 200, score_threshold=0.5)
    assert scores == pytest.approx([1 / (1 + np.exp(-3.0))])
    np.testing.assert_allclose(corners[0], [0.3 - 0.1, 0.6 - 0.2, 0.3 + 0.1, 0.6 + 0.2])
    np.testing.assert_allclose(keypoints[0], [[0.25, 0.5], [0.75, 0.5]])
    empty = decode_ssd(raw, logits - 10.0, anchors, 200, 0.5)
    assert all(len(a) == 0 for a in empty)


def test_weighted_nms_merges_overlapping_boxes_by_score():
    corners = np.array([[0.0, 0.0, 1.0, 1.0], [0.1, 0.0, 1.1, 1.0], [5.0, 5.0, 6.0, 6.0]])
    scores = np.array([0.9, 0.3, 0.6])
    extra = np.array([[[0.0, 0.0]], [[4.0, 0.0]], [[9.0, 9.0]]])
    kept = weighted_nms(corners, scores, extra, iou_threshold=0.3)
    assert [k[0] for k in kept] == [0.9, 0.6]
    np.testing.assert_allclose(kept[0][1], [0.025, 0.0, 1.025, 1.0])
    np.testing.assert_allclose(kept[0][2], [[1.0, 0.0]])
