"""DOPE pose predictor: joint-major layout, decode = o + (A + d/5) s, encode is its inverse."""

import torch

from wholebody.models.dope.heads import PosePredictor, decode_poses, encode_poses, join_deltas, split_deltas


def test_joint_major_split():
    deltas = torch.arange(10.0)  # J = 2: x0 y0 x1 y1 | X0 Y0 Z0 X1 Y1 Z1
    d2d, d3d = split_deltas(deltas, 2)
    assert d2d.tolist() == [[0, 1], [2, 3]]
    assert d3d.tolist() == [[4, 5, 6], [7, 8, 9]]
    assert torch.equal(join_deltas(d2d, d3d), deltas)


def test_decode_by_hand():
    boxes = torch.tensor([[10.0, 20.0, 30.0, 60.0]])  # corner (10, 20), size (20, 40)
    anchors = torch.tensor([[[0.5, 0.25, 0.1, 0.2, 0.3]]])  # K = 1, J = 1
    deltas = torch.tensor([[[5.0, -5.0, 5.0, 0.0, -10.0]]])
    pose2d, pose3d = decode_poses(boxes, deltas, anchors)
    assert torch.allclose(pose2d, torch.tensor([[[[10 + (0.5 + 1) * 20, 20 + (0.25 - 1) * 40]]]]))
    assert torch.allclose(pose3d, torch.tensor([[[[1.1, 0.2, -1.7]]]]))


def test_encode_inverts_decode():
    torch.manual_seed(0)
    boxes = torch.tensor([[5.0, 5.0, 55.0, 105.0], [0.0, 0.0, 10.0, 10.0]])
    anchors = torch.rand(3, 4, 5)
    pose2d, pose3d = torch.rand(2, 4, 2) * 50, torch.rand(2, 4, 3)
    classes = torch.tensor([2, 0])
    d2d, d3d = encode_poses(boxes, pose2d, pose3d, anchors[classes])
    deltas = torch.zeros(2, 3, 20)
    deltas[torch.arange(2), classes] = join_deltas(d2d, d3d)
    dec2d, dec3d = decode_poses(boxes, deltas, anchors)
    assert torch.allclose(dec2d[torch.arange(2), classes], pose2d, atol=1e-4)
    assert torch.allclose(dec3d[torch.arange(2), classes], pose3d, atol=1e-6)


def test_predictor_shapes_and_init():
    head = PosePredictor(16, num_classes=3, num_joints=4)
    logits, deltas = head(torch.randn(5, 16))
    assert logits.shape == (5, 4) and deltas.shape == (5, 3, 20)
    assert head.pose_pred.weight.std() < 0.01 and torch.all(head.cls_score.bias == 0)
