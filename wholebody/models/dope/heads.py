"""DOPE's per-part pose predictor and the coding of poses relative to anchor poses.

For each part, two linear layers on the pooled 2048-d (ResNet-50) RoI feature:

* ``cls_score``: K + 1 logits, index 0 = background, index c + 1 = anchor pose c;
* ``pose_pred``: K x 5J values, for each class a *joint-major* vector: the first 2J values are
  ``x0, y0, x1, y1, ...`` (2D offsets), the last 3J are ``X0, Y0, Z0, X1, ...`` (3D offsets).

Decoding for a box ``(x1, y1, x2, y2)`` with corner ``o = (x1, y1)`` and size ``s = (w, h)``:
``pose2d = o + (A2d + d2d / 5) * s`` (pixels of the frame the box is in) and
``pose3d = A3d + d3d / 5`` (metres, the part's frame; not scaled by the box).  Encoding is the
inverse and gives the regression targets.
"""

from __future__ import annotations

import torch
from torch import nn

REGRESSION_WEIGHT = 5.0


class PosePredictor(nn.Module):
    """Classifier over K anchor poses + background and class-specific 2D+3D regression."""

    def __init__(self, in_features: int, num_classes: int, num_joints: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.num_joints = num_joints
        self.cls_score = nn.Linear(in_features, num_classes + 1)
        self.pose_pred = nn.Linear(in_features, num_classes * num_joints * 5)
        nn.init.normal_(self.cls_score.weight, std=0.01)
        nn.init.normal_(self.pose_pred.weight, std=0.001)
        nn.init.zeros_(self.cls_score.bias)
        nn.init.zeros_(self.pose_pred.bias)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(R, F) -> logits (R, K + 1) and deltas (R, K, 5J)."""
        logits = self.cls_score(features)
        deltas = self.pose_pred(features).reshape(-1, self.num_classes, self.num_joints * 5)
        return logits, deltas


def split_deltas(deltas: torch.Tensor, num_joints: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(..., 5J) joint-major deltas -> 2D (..., J, 2) and 3D (..., J, 3)."""
    d2d = deltas[..., : 2 * num_joints].reshape(*deltas.shape[:-1], num_joints, 2)
    d3d = deltas[..., 2 * num_joints:].reshape(*deltas.shape[:-1], num_joints, 3)
    return d2d, d3d


def join_deltas(d2d: torch.Tensor, d3d: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`split_deltas`: (..., J, 2), (..., J, 3) -> (..., 5J)."""
    return torch.cat([d2d.flatten(-2), d3d.flatten(-2)], dim=-1)


def box_corner_and_size(boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(..., 4) x1y1x2y2 -> corner (..., 2) and size (..., 2)."""
    return boxes[..., :2], boxes[..., 2:] - boxes[..., :2]


def decode_poses(boxes: torch.Tensor, deltas: torch.Tensor, anchor_poses: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Poses of every class for every box.

    Args:
        boxes: (R, 4) x1y1x2y2.
        deltas: (R, K, 5J) predictor output.
        anchor_poses: (K, J, 5) (``anchor_poses`` module).
    Returns:
        pose2d (R, K, J, 2) in the boxes' pixels, pose3d (R, K, J, 3) in metres.
    """
    num_joints = anchor_poses.shape[1]
    d2d, d3d = split_deltas(deltas.float(), num_joints)
    corner, size = box_corner_and_size(boxes.float())
    anchors = anchor_poses.float()
    pose2d = corner[:, None, None, :] + (anchors[None, :, :, :2] + d2d / REGRESSION_WEIGHT) * size[:, None, None, :]
    pose3d = anchors[None, :, :, 2:] + d3d / REGRESSION_WEIGHT
    return pose2d, pose3d


def encode_poses(boxes: torch.Tensor, pose2d: torch.Tensor, pose3d: torch.Tensor, anchor_poses: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Regression targets of ground-truth poses relative to their class's anchor pose.

    Args:
        boxes: (R, 4) the RoIs the targets are for; pose2d (R, J, 2) pixels; pose3d (R, J, 3) metres.
        anchor_poses: (R, J, 5) the anchor pose of each RoI's target class.
    Returns:
        d2d (R, J, 2) and d3d (R, J, 3) such that :func:`decode_poses` gives back the poses.
    """
    corner, size = box_corner_and_size(boxes.float())
    normalised = (pose2d - corner[:, None, :]) / size[:, None, :].clamp(min=1e-6)
    d2d = REGRESSION_WEIGHT * (normalised - anchor_poses[..., :2])
    d3d = REGRESSION_WEIGHT * (pose3d - anchor_poses[..., 2:])
    return d2d, d3d
