"""Anchor generation, box coding, matching and sampling against hand-computed cases."""

import math

import pytest
import torch

from wholebody.nn.anchors import (
    BELOW_LOW_THRESHOLD,
    BETWEEN_THRESHOLDS,
    AnchorGenerator,
    BoxCoder,
    base_anchors,
    match_anchors,
    sample_balanced,
)


def test_base_anchors_sizes_and_ratios():
    anchors = base_anchors((32, 64), (0.5, 1.0, 2.0))
    assert anchors.shape == (6, 4)
    # ratio 1: a square of side s centred on 0
    assert anchors[2].tolist() == [-16, -16, 16, 16]
    assert anchors[3].tolist() == [-32, -32, 32, 32]
    # ratio 0.5 (height / width), size 32: w = 32 / sqrt(.5) = 45.25, h = 22.63 -> halves rounded
    assert anchors[0].tolist() == [-23, -11, 23, 11]
    # ratio 2, size 64: h = 90.5, w = 45.25 -> halves 45.25 -> 45, 22.6 -> 23
    assert anchors[5].tolist() == [-23, -45, 23, 45]


def test_grid_anchors_order_and_stride():
    gen = AnchorGenerator(sizes=(32,), aspect_ratios=(1.0, 2.0))
    anchors = gen((32, 48), (2, 3))  # stride 16
    assert gen.num_anchors_per_location == 2
    assert anchors.shape == (2 * 3 * 2, 4)
    # cell (row 0, col 1), first base anchor: centre (16, 0)
    assert anchors[2].tolist() == [0, -16, 32, 16]
    # cell (row 1, col 2), second base anchor (ratio 2, 32: w 22.6 -> 11, h 45.25 -> 23)
    assert anchors[(1 * 3 + 2) * 2 + 1].tolist() == [32 - 11, 16 - 23, 32 + 11, 16 + 23]


def test_default_generator_has_15_anchors_per_cell():
    assert AnchorGenerator().num_anchors_per_location == 15


def test_box_coder_encode_decode_by_hand():
    coder = BoxCoder()
    ref = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    target = torch.tensor([[5.0, 5.0, 15.0, 25.0]])  # centre (10, 15), size 10 x 20
    deltas = coder.encode(target, ref)
    assert torch.allclose(deltas, torch.tensor([[0.5, 1.0, 0.0, math.log(2.0)]]))
    assert torch.allclose(coder.decode(deltas, ref), target)


def test_box_coder_weights_and_clip():
    coder = BoxCoder(weights=(10.0, 10.0, 5.0, 5.0))
    ref = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    target = torch.tensor([[5.0, 5.0, 15.0, 25.0]])
    assert torch.allclose(coder.encode(target, ref), torch.tensor([[5.0, 10.0, 0.0, 5 * math.log(2.0)]]))
    huge = coder.decode(torch.tensor([[0.0, 0.0, 1e4, 1e4]]), ref)
    assert torch.isfinite(huge).all()
    assert huge[0, 2].item() == pytest.approx(5 + 5 * 1000 / 16, rel=1e-4)


def test_match_anchors_thresholds():
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    anchors = torch.tensor([
        [0.0, 0.0, 10.0, 10.0],    # IoU 1
        [0.0, 0.0, 10.0, 20.0],    # IoU 0.5 -> between
        [20.0, 20.0, 30.0, 30.0],  # IoU 0
    ])
    assert match_anchors(gt, anchors).tolist() == [0, BETWEEN_THRESHOLDS, BELOW_LOW_THRESHOLD]


def test_match_anchors_low_quality_keeps_best_anchor():
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0], [100.0, 100.0, 110.0, 110.0]])
    anchors = torch.tensor([[0.0, 0.0, 10.0, 25.0], [100.0, 100.0, 110.0, 110.0], [50.0, 50.0, 60.0, 60.0]])
    # anchor 0 has IoU 0.4 with gt 0: between thresholds, but it is gt 0's best anchor
    assert match_anchors(gt, anchors).tolist() == [0, 1, BELOW_LOW_THRESHOLD]
    assert match_anchors(gt, anchors, allow_low_quality=False).tolist() == [BETWEEN_THRESHOLDS, 1, BELOW_LOW_THRESHOLD]


def test_match_anchors_without_ground_truth():
    anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0]] * 3)
    assert match_anchors(torch.zeros((0, 4)), anchors).tolist() == [BELOW_LOW_THRESHOLD] * 3


def test_sample_balanced_counts():
    labels = torch.tensor([1] * 10 + [0] * 100 + [-1] * 5)
    gen = torch.Generator().manual_seed(0)
    pos, neg = sample_balanced(labels, 16, 0.25, gen)
    assert len(pos) == 4 and len(neg) == 12
    assert (labels[pos] == 1).all() and (labels[neg] == 0).all()
    assert len(set(pos.tolist())) == 4
    # few positives: the rest is filled with negatives
    pos, neg = sample_balanced(torch.tensor([1] + [0] * 50), 16, 0.5, gen)
    assert len(pos) == 1 and len(neg) == 15
