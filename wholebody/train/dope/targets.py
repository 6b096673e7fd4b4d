"""Training targets of DOPE's part heads for a whole batch, in pixels of the network input.

:func:`batch_targets` turns each image's instances of one part (Eq. 1 pseudo ground truth or
the experts' instances) into padded (N, G, ...) tensors on the training device: boxes,
anchor-pose classes (closest anchor pose, restricted to the hand's side), 2D poses, 3D poses,
their masks and a validity mask for the padding.  The classes are computed on the device for
every instance at once, so the anchor poses never travel back to the host.
:func:`match_rois_batched` matches RoIs to them (IoU >= ``fg_iou`` = 0.5 positive, the rest
background, as in DOPE's RoI heads); ``nn.anchors.sample_balanced_mask`` samples RoIs with at
most ``positive_fraction`` positives.  :func:`part_targets`, :func:`match_rois` and
:func:`assign_rois` are the one-image forms.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from wholebody.data.adapters.sample import PartInstance
from wholebody.models.dope.transform import Geometry
from wholebody.nn.anchors import sample_balanced
from wholebody.nn.nms import box_iou


@dataclass
class PartTargets:
    """Ground-truth instances of one part (input pixels): G of one image, or (N, G) padded.

    Attributes:
        boxes: (..., G, 4) x1y1x2y2; classes: (..., G) int64 anchor-pose index (0-based,
            background excluded).
        pose2d: (..., G, J, 2); visible2d: (..., G, J) bool; pose3d: (..., G, J, 3) metres;
            visible3d: (..., G, J) bool.
        scores: (..., G) label confidence (1 for real labels, the expert's score otherwise).
        valid: (N, G) bool, false on padding (batched targets only).
    """

    boxes: torch.Tensor
    classes: torch.Tensor
    pose2d: torch.Tensor
    visible2d: torch.Tensor
    pose3d: torch.Tensor
    visible3d: torch.Tensor
    scores: torch.Tensor
    valid: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.boxes)


def _collate(instance_lists: list[list[PartInstance]], part: str, joints: int, scales: np.ndarray) -> dict[str, np.ndarray]:
    """Padded host arrays of the boxed instances of ``part``, scaled to input pixels (float64)."""
    chosen = [[inst for inst in instances if inst.part == part and inst.box is not None] for instances in instance_lists]
    # at least one (padding) row, so that gathering by index works when no image has the part
    n, g = len(chosen), max([1] + [len(c) for c in chosen])
    out = {"boxes": np.zeros((n, g, 4)), "pose2d": np.zeros((n, g, joints, 2)), "visible2d": np.zeros((n, g, joints), bool),
           "pose3d": np.zeros((n, g, joints, 3)), "visible3d": np.zeros((n, g, joints), bool), "scores": np.ones((n, g)),
           "valid": np.zeros((n, g), bool), "is_right": np.zeros((n, g), bool)}
    # Gathering Python objects into arrays is the data loader's part of the step: one pass over
    # the instances, no tensor work per instance.
    for i, instances in enumerate(chosen):
        for j, inst in enumerate(instances):
            out["boxes"][i, j], out["pose2d"][i, j], out["visible2d"][i, j] = inst.box, inst.pose2d, inst.visible2d
            if inst.pose3d is not None and inst.visible3d is not None:
                out["pose3d"][i, j], out["visible3d"][i, j] = inst.pose3d, inst.visible3d
            out["scores"][i, j], out["valid"][i, j], out["is_right"][i, j] = inst.score, True, bool(inst.is_right)
    out["boxes"] = out["boxes"] * np.tile(scales, 2)[:, None, :]  # (sx, sy) per image
    out["pose2d"] = out["pose2d"] * scales[:, None, None, :]
    return out


def _masked_distances(features: torch.Tensor, mask: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """(M, J, D) with (M, J) masks vs (K, J, D) -> (M, K) mean distance over the masked joints."""
    dist = torch.linalg.vector_norm(features[:, None] - centres[None], dim=-1)  # (M, K, J)
    weight = mask[:, None, :].to(dist.dtype)
    return (dist * weight).sum(-1) / weight.sum(-1).clamp(min=1)


def anchor_classes(anchor_poses: torch.Tensor, boxes: torch.Tensor, pose2d: torch.Tensor, visible2d: torch.Tensor,
                   pose3d: torch.Tensor, visible3d: torch.Tensor, is_right: torch.Tensor | None,
                   hand_classes_per_side: int) -> torch.Tensor:
    """Closest anchor pose of every instance: 3D distance where it has 3D, else box-normalised 2D.

    All arguments share leading dims (...); anchor_poses (K, J, 5).  ``is_right`` (hands only)
    restricts right hands to the first ``hand_classes_per_side`` classes and left hands to the
    next ones.  Computed in float64 so near-equal distances order as in the numpy original.
    """
    lead = boxes.shape[:-1]
    anchors = anchor_poses.detach().to(torch.float64)
    joints = anchors.shape[1]
    boxes = boxes.reshape(-1, 4).to(torch.float64)
    size = (boxes[:, 2:] - boxes[:, :2]).clamp(min=1e-6)
    normalised = (pose2d.reshape(-1, joints, 2).to(torch.float64) - boxes[:, None, :2]) / size[:, None, :]
    visible3d = visible3d.reshape(-1, joints)
    distance = _masked_distances(normalised, visible2d.reshape(-1, joints), anchors[..., :2])
    distance3d = _masked_distances(pose3d.reshape(-1, joints, 3).to(torch.float64), visible3d, anchors[..., 2:])
    distance = torch.where(visible3d.any(dim=1, keepdim=True), distance3d, distance)
    if is_right is not None:
        right_class = torch.arange(len(anchors), device=distance.device) < hand_classes_per_side
        allowed = right_class[None, :] == is_right.reshape(-1, 1)
        allowed &= torch.arange(len(anchors), device=distance.device) < 2 * hand_classes_per_side
        distance = torch.where(allowed, distance, torch.inf)
    return distance.argmin(dim=1).reshape(lead)


def batch_targets(instance_lists: list[list[PartInstance]], part: str, anchor_poses: torch.Tensor,
                  geometries: list[Geometry], hand_classes_per_side: int) -> PartTargets:
    """Padded (N, G) targets of ``part`` on the anchor poses' device; instances without a box are skipped."""
    joints = anchor_poses.shape[1]
    scales = np.array([g.scale for g in geometries], dtype=np.float64).reshape(-1, 2)
    data = _collate(instance_lists, part, joints, scales)
    device = anchor_poses.device
    exact = {name: torch.as_tensor(value, device=device) for name, value in data.items()}
    classes = anchor_classes(anchor_poses, exact["boxes"], exact["pose2d"], exact["visible2d"], exact["pose3d"],
                             exact["visible3d"], exact["is_right"] if part == "hand" else None, hand_classes_per_side)
    as_float = lambda name: exact[name].to(torch.float32)  # noqa: E731
    return PartTargets(as_float("boxes"), classes, as_float("pose2d"), exact["visible2d"], as_float("pose3d"),
                       exact["visible3d"], as_float("scores"), exact["valid"])


def part_targets(instances: list[PartInstance], part: str, anchor_poses: np.ndarray, geometry: Geometry,
                 hand_classes_per_side: int) -> PartTargets:
    """Targets of one part of one image (G, ...); instances without a box are skipped."""
    batched = batch_targets([instances], part, torch.as_tensor(np.asarray(anchor_poses), dtype=torch.float32),
                            [geometry], hand_classes_per_side)
    keep = batched.valid[0]
    return PartTargets(*(getattr(batched, f.name)[0][keep] for f in fields(PartTargets) if f.name != "valid"))


def match_rois_batched(rois: torch.Tensor, roi_valid: torch.Tensor, gt_boxes: torch.Tensor, gt_valid: torch.Tensor,
                       fg_iou: float = 0.5) -> torch.Tensor:
    """(N, R) index of each RoI's matched ground truth, -1 for background (best IoU < fg_iou) and padding.

    Args:
        rois: (N, R, 4); roi_valid: (N, R); gt_boxes: (N, G, 4); gt_valid: (N, G).
    """
    n, r = roi_valid.shape
    if gt_boxes.shape[1] == 0 or r == 0:
        return torch.full((n, r), -1, dtype=torch.int64, device=rois.device)
    iou = torch.where(gt_valid[:, None, :], box_iou(rois, gt_boxes.to(rois)), -1.0)
    best, index = iou.max(dim=2)
    return torch.where((best >= fg_iou) & roi_valid, index, -1)


def match_rois(rois: torch.Tensor, gt_boxes: torch.Tensor, fg_iou: float = 0.5) -> torch.Tensor:
    """(R,) index of the matched ground truth per RoI, -1 for background (best IoU < fg_iou)."""
    ones = lambda k: torch.ones((1, k), dtype=torch.bool, device=rois.device)  # noqa: E731
    return match_rois_batched(rois[None], ones(len(rois)), gt_boxes[None], ones(len(gt_boxes)), fg_iou)[0]


def assign_rois(rois: torch.Tensor, targets: PartTargets, batch_size: int = 512, positive_fraction: float = 0.25,
                fg_iou: float = 0.5, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Sampled RoI indices and their matched ground truth (-1 = background) for one part of one image."""
    matches = match_rois(rois, targets.boxes, fg_iou)
    positive, negative = sample_balanced((matches >= 0).long(), batch_size, positive_fraction, generator)
    chosen = torch.cat([positive, negative])
    return chosen, matches[chosen]
