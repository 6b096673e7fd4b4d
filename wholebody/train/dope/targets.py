"""Per-image training targets of DOPE's part heads, in pixels of the network input.

For one image and one part, :func:`part_targets` turns the ground-truth instances (Eq. 1
pseudo ground truth) into tensors: boxes, anchor-pose classes (closest anchor pose, restricted
to the hand's side), 2D poses, 3D poses and their masks.  :func:`assign_rois` matches RoIs to
them (IoU >= ``fg_iou`` = 0.5 positive, the rest background, as in DOPE's RoI heads) and
samples ``batch_size`` RoIs with at most ``positive_fraction`` positives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from wholebody.data.adapters.sample import PartInstance
from wholebody.models.dope.anchor_poses import assign_anchor_class
from wholebody.models.dope.transform import Geometry
from wholebody.nn.anchors import sample_balanced
from wholebody.nn.nms import box_iou


@dataclass
class PartTargets:
    """G ground-truth instances of one part (input pixels).

    Attributes:
        boxes: (G, 4) x1y1x2y2; classes: (G,) int64 anchor-pose index (0-based, background excluded).
        pose2d: (G, J, 2); visible2d: (G, J) bool; pose3d: (G, J, 3) metres; visible3d: (G, J) bool.
        scores: (G,) label confidence (1 for real labels, the expert's score otherwise).
    """

    boxes: torch.Tensor
    classes: torch.Tensor
    pose2d: torch.Tensor
    visible2d: torch.Tensor
    pose3d: torch.Tensor
    visible3d: torch.Tensor
    scores: torch.Tensor

    def __len__(self) -> int:
        return len(self.boxes)


def _stack(instances: list[PartInstance], joints: int) -> dict[str, np.ndarray]:
    g = len(instances)
    out = {"boxes": np.zeros((g, 4)), "pose2d": np.zeros((g, joints, 2)), "visible2d": np.zeros((g, joints), bool),
           "pose3d": np.zeros((g, joints, 3)), "visible3d": np.zeros((g, joints), bool), "scores": np.ones(g)}
    for i, inst in enumerate(instances):
        out["boxes"][i] = inst.box
        out["pose2d"][i], out["visible2d"][i] = inst.pose2d, inst.visible2d
        if inst.pose3d is not None and inst.visible3d is not None:
            out["pose3d"][i], out["visible3d"][i] = inst.pose3d, inst.visible3d
        out["scores"][i] = inst.score
    return out


def part_targets(instances: list[PartInstance], part: str, anchor_poses: np.ndarray, geometry: Geometry,
                 hand_classes_per_side: int) -> PartTargets:
    """Targets of one part of one image; instances without a box are skipped."""
    instances = [inst for inst in instances if inst.part == part and inst.box is not None]
    joints = anchor_poses.shape[1]
    data = _stack(instances, joints)
    sx, sy = geometry.scale
    boxes = data["boxes"] * np.array([sx, sy, sx, sy])
    pose2d = data["pose2d"] * np.array([sx, sy])
    size = np.maximum(boxes[:, 2:] - boxes[:, :2], 1e-6)
    normalised = (pose2d - boxes[:, None, :2]) / size[:, None, :]
    classes = np.zeros(len(instances), dtype=np.int64)
    for i, inst in enumerate(instances):
        allowed = None
        if part == "hand":
            allowed = slice(0, hand_classes_per_side) if inst.is_right else slice(hand_classes_per_side, 2 * hand_classes_per_side)
        classes[i] = assign_anchor_class(anchor_poses, normalised[i:i + 1], data["visible2d"][i:i + 1],
                                         data["pose3d"][i:i + 1], data["visible3d"][i:i + 1], allowed)[0]
    as_float = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    return PartTargets(as_float(boxes).reshape(-1, 4), torch.as_tensor(classes), as_float(pose2d).reshape(-1, joints, 2),
                       torch.as_tensor(data["visible2d"]), as_float(data["pose3d"]).reshape(-1, joints, 3),
                       torch.as_tensor(data["visible3d"]), as_float(data["scores"]))


def match_rois(rois: torch.Tensor, gt_boxes: torch.Tensor, fg_iou: float = 0.5) -> torch.Tensor:
    """(R,) index of the matched ground truth per RoI, -1 for background (best IoU < fg_iou)."""
    if len(gt_boxes) == 0 or len(rois) == 0:
        return torch.full((len(rois),), -1, dtype=torch.int64, device=rois.device)
    best, index = box_iou(rois, gt_boxes.to(rois)).max(dim=1)
    return torch.where(best >= fg_iou, index, torch.full_like(index, -1))


def assign_rois(rois: torch.Tensor, targets: PartTargets, batch_size: int = 512, positive_fraction: float = 0.25,
                fg_iou: float = 0.5, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Sampled RoI indices and their matched ground truth (-1 = background) for one part."""
    matches = match_rois(rois, targets.boxes, fg_iou)
    positive, negative = sample_balanced((matches >= 0).long(), batch_size, positive_fraction, generator)
    chosen = torch.cat([positive, negative])
    return chosen, matches[chosen]
