"""RPN head layout, proposal selection and losses against hand-computed cases."""

import math

import torch

from wholebody.nn.anchors import AnchorGenerator
from wholebody.nn.rpn import RegionProposalNetwork, RPNHead, RPNSettings, clip_boxes

torch.set_num_threads(1)


def test_head_output_order_matches_anchor_order():
    head = RPNHead(4, 3)
    features = torch.randn(1, 4, 2, 5)
    logits, deltas = head(features)
    assert logits.shape == (1, 2 * 5 * 3) and deltas.shape == (1, 2 * 5 * 3, 4)
    raw_logits = head.cls_logits(torch.relu(head.conv(features)))
    raw_deltas = head.bbox_pred(torch.relu(head.conv(features)))
    row, col, anchor = 1, 3, 2
    flat = (row * 5 + col) * 3 + anchor
    assert torch.allclose(logits[0, flat], raw_logits[0, anchor, row, col])
    assert torch.allclose(deltas[0, flat], raw_deltas[0, anchor * 4:(anchor + 1) * 4, row, col])


def test_clip_boxes():
    boxes = torch.tensor([[-5.0, -5.0, 50.0, 20.0]])
    assert clip_boxes(boxes, (10, 40)).tolist() == [[0, 0, 40, 10]]


def test_select_proposals_nms_and_top_n():
    rpn = RegionProposalNetwork(4, AnchorGenerator((32,), (1.0,)), RPNSettings(pre_nms_top_n_test=4, post_nms_top_n_test=2))
    rpn.eval()
    boxes = torch.tensor([
        [0.0, 0.0, 10.0, 10.0],
        [0.0, 0.0, 10.0, 11.0],   # IoU 0.91 with the first: suppressed
        [20.0, 20.0, 30.0, 30.0],
        [40.0, 40.0, 50.0, 50.0],  # lowest logit: cut by pre-NMS top 4
        [60.0, 60.0, 60.0, 70.0],  # best logit, but zero width: removed after the top-n cut
    ])
    logits = torch.tensor([3.0, 4.0, 1.0, -5.0, 10.0])
    kept, probs = rpn.select_proposals(boxes, logits, (100, 100))
    assert kept.tolist() == [[0, 0, 10, 11], [20, 20, 30, 30]]
    assert torch.allclose(probs, torch.sigmoid(torch.tensor([4.0, 1.0])))


def test_losses_by_hand_with_zero_head():
    """With zero weights every logit is 0 (BCE = log 2) and every delta is 0."""
    gen = AnchorGenerator((32,), (1.0,))
    rpn = RegionProposalNetwork(2, gen, RPNSettings(batch_size_per_image=8, positive_fraction=0.5))
    for p in rpn.parameters():
        torch.nn.init.zeros_(p)
    rpn.train()
    features = torch.zeros(1, 2, 4, 4)
    anchors = gen((64, 64), (4, 4))
    # ground truth = anchor 5 shifted by 4 px: exact box loss from the encoded target
    gt = anchors[5:6] + torch.tensor([4.0, 0.0, 4.0, 0.0])
    proposals, scores, losses = rpn(features, (64, 64), [(64, 64)], [gt])
    assert math.isclose(losses["rpn_objectness"].item(), math.log(2.0), rel_tol=1e-6)
    # positives: anchors with IoU >= 0.7 plus the best one; each has dx = 4 / 32 = 0.125
    from wholebody.nn.anchors import match_anchors
    from wholebody.nn.nms import box_iou
    matches = match_anchors(gt, anchors)
    num_pos = int((matches >= 0).sum())
    num_neg = min(8 - num_pos, int((matches == -1).sum()))
    iou = box_iou(gt, anchors[matches >= 0])[0]
    assert num_pos >= 1 and torch.all(iou > 0)
    dx = (gt[0, 0] - anchors[matches >= 0][:, 0]) / 32
    dy = (gt[0, 1] - anchors[matches >= 0][:, 1]) / 32
    per_anchor = sum(torch.where(d.abs() < 1 / 9, 0.5 * d**2 * 9, d.abs() - 0.5 / 9) for d in (dx, dy))
    assert math.isclose(losses["rpn_box"].item(), per_anchor.sum().item() / (num_pos + num_neg), rel_tol=1e-5)
    assert len(proposals) == 1 and proposals[0].shape[1] == 4 and len(scores[0]) == len(proposals[0])


def test_training_reduces_loss():
    torch.manual_seed(0)
    # 256 >= the 72 anchors: every anchor is sampled, so the outcome does not hang on one random subset
    rpn = RegionProposalNetwork(8, AnchorGenerator((16, 32), (1.0,)), RPNSettings(batch_size_per_image=256))
    rpn.train()
    features = torch.randn(1, 8, 6, 6)
    gt = [torch.tensor([[10.0, 10.0, 40.0, 40.0]])]
    opt = torch.optim.Adam(rpn.parameters(), lr=0.01)
    first = None
    for _ in range(30):
        torch.manual_seed(1)  # same anchor sample every step
        _, _, losses = rpn(features, (96, 96), [(96, 96)], gt)
        total = losses["rpn_objectness"] + losses["rpn_box"]
        first = first if first is not None else total.item()
        opt.zero_grad()
        total.backward()
        opt.step()
    assert total.item() < 0.3 * first
    rpn.eval()
    proposals, _, _ = rpn(features, (96, 96), [(96, 96)])
    from wholebody.nn.nms import box_iou
    assert box_iou(proposals[0][:1], gt[0]).item() > 0.5
