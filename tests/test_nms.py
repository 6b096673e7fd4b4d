"""Greedy NMS and class-batched NMS on hand-computed cases."""

from __future__ import annotations

import torch

from wholebody.nn.nms import batched_nms, box_iou, nms

torch.set_num_threads(1)


def test_iou_hand_computed():
    a = torch.tensor([[0.0, 0, 10, 10]])
    b = torch.tensor([[5.0, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10], [3, 3, 3, 3]])
    # overlap 5x10 = 50, union 150 -> 1/3; disjoint -> 0; identical -> 1; empty box -> 0
    assert torch.allclose(box_iou(a, b), torch.tensor([[1 / 3, 0.0, 1.0, 0.0]]))


def test_greedy_suppression_order_and_threshold():
    boxes = torch.tensor([
        [0.0, 0, 10, 10],    # 0: score .9, kept
        [1.0, 0, 11, 10],    # 1: IoU with 0 = 90/110 = .818 -> suppressed at .5
        [5.0, 0, 15, 10],    # 2: IoU with 0 = 1/3 -> kept at .5
        [50.0, 50, 60, 60],  # 3: isolated, kept
        [6.0, 0, 16, 10],    # 4: IoU with 2 = 90/110 -> suppressed by 2 (not by 0: IoU 4/16 = .25)
    ])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95, 0.6])
    assert nms(boxes, scores, 0.5).tolist() == [3, 0, 2]
    # Suppression needs IoU strictly above the threshold: at exactly 1/3 box 2 survives.
    assert nms(boxes[[0, 2]], scores[[0, 2]], 1 / 3).tolist() == [0, 1]
    assert nms(boxes, scores, 0.9).tolist() == [3, 0, 1, 2, 4]


def test_suppressed_box_does_not_suppress_others():
    # 1 overlaps 0 and 2; 0 and 2 do not overlap: 0 suppresses 1, so 2 must survive.
    boxes = torch.tensor([[0.0, 0, 10, 10], [4, 0, 14, 10], [8, 0, 18, 10]])
    assert nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.3).tolist() == [0, 2]


def test_ties_keep_the_earlier_box():
    boxes = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 10]])
    assert nms(boxes, torch.tensor([0.5, 0.5]), 0.5).tolist() == [0]


def test_batched_nms_only_suppresses_within_a_class():
    boxes = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 10], [1, 0, 11, 10], [100, 100, 110, 110]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    classes = torch.tensor([0, 1, 0, 1])
    assert batched_nms(boxes, scores, classes, 0.5).tolist() == [0, 1, 3]


def test_empty_input():
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).numel() == 0
    assert batched_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long), 0.5).numel() == 0
