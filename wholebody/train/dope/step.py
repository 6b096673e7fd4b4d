"""One DOPE training step: RPN + per-part classification / regression + distillation losses.

Per image: the RPN is trained on every ground-truth box (all parts, class-agnostic).  The RoIs
are the RPN proposals plus the ground-truth boxes plus the experts' boxes (the "positive boxes
appended to the proposals" of DOPE's distillation).  For each part, RoIs are matched to that
part's ground truth (IoU >= 0.5 positive), 512 are sampled with up to 25 % positives, and

* ``<part>_cls``: cross-entropy over K anchor poses + background;
* ``<part>_reg``: L1 between the predicted 2D+3D deltas of the target class and the encoded
  ground truth (``dope_heads.encode_poses``), over the labelled coordinates only;
* ``<part>_distill_cls`` / ``<part>_distill_reg``: on the expert boxes of parts the dataset does
  not label, a soft-label loss (KL divergence to the expert's label: its score on its anchor
  class, the rest on background; 0 when reproduced) and L1 regression towards the expert's pose.

Losses are averaged over the batch; the total is their weighted sum.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

from wholebody.data.adapters.sample import PartInstance
from wholebody.models.dope.network import DOPE
from wholebody.models.dope.heads import encode_poses, join_deltas
from wholebody.models.dope.layout import PART_NAMES
from wholebody.models.dope.transform import Geometry
from wholebody.train.dope.pseudo import PseudoLabels
from wholebody.train.dope.targets import PartTargets, assign_rois, part_targets


@dataclass
class StepConfig:
    """RoI sampling and loss weights (``weights`` keys: rpn, cls, reg, distill_cls, distill_reg)."""

    rois_per_image: int = 512
    positive_fraction: float = 0.25
    fg_iou: float = 0.5
    weights: dict[str, float] = field(default_factory=lambda: {"rpn": 1.0, "cls": 1.0, "reg": 1.0,
                                                               "distill_cls": 1.0, "distill_reg": 1.0})


@dataclass
class ImageLabels:
    """What one training image needs: its Eq. 1 pseudo labels and which parts the dataset labels."""

    pseudo: PseudoLabels
    labelled_parts: frozenset[str]


def _targets(model: DOPE, instances: list[PartInstance], part: str, geometry: Geometry, device: torch.device) -> PartTargets:
    anchors = model.anchor_poses(part).detach().float().cpu().numpy()
    targets = part_targets(instances, part, anchors, geometry, model.hand_classes_per_side)
    return PartTargets(*(getattr(targets, name).to(device) for name in
                         ("boxes", "classes", "pose2d", "visible2d", "pose3d", "visible3d", "scores")))


def _regression_loss(model: DOPE, part: str, deltas: torch.Tensor, rois: torch.Tensor, targets: PartTargets,
                     gt_index: torch.Tensor) -> torch.Tensor:
    """Masked L1 between the deltas of each RoI's target class and the encoded ground truth."""
    classes = targets.classes[gt_index]
    anchors = model.anchor_poses(part)[classes].float()
    d2d, d3d = encode_poses(rois, targets.pose2d[gt_index], targets.pose3d[gt_index], anchors)
    target = join_deltas(d2d, d3d)
    joints = targets.pose2d.shape[1]
    mask = join_deltas(targets.visible2d[gt_index][..., None].expand(-1, joints, 2).float(),
                       targets.visible3d[gt_index][..., None].expand(-1, joints, 3).float())
    predicted = deltas[torch.arange(len(classes)), classes].float()
    return ((predicted - target).abs() * mask).sum() / mask.sum().clamp(min=1)


def _sample_rois(proposals: list[torch.Tensor], gt_boxes: list[torch.Tensor], truth: list[dict],
                 expert: list[dict], config: StepConfig, device: torch.device) -> tuple[list[torch.Tensor], list[tuple]]:
    """RoIs to pool per image and the picks ``(image, part, kind, pooled rows, ground-truth index)``.

    ``kind`` is ``"truth"`` (sampled proposals, index -1 = background) or ``"expert"`` (the expert
    boxes appended for distillation).  A RoI chosen by several parts is pooled once.
    """
    roi_lists, picks, offset = [], [], 0
    for i, (image_truth, image_expert) in enumerate(zip(truth, expert)):
        expert_boxes = [image_expert[p].boxes for p in image_expert]
        rois = torch.cat([proposals[i].float(), gt_boxes[i], *expert_boxes])
        image_picks = []
        for part in PART_NAMES:
            chosen, matched = assign_rois(rois, image_truth[part], config.rois_per_image, config.positive_fraction,
                                          config.fg_iou)
            image_picks.append((part, "truth", chosen.to(device), matched.to(device)))
        start = len(proposals[i]) + len(gt_boxes[i])
        for part, boxes in zip(image_expert, expert_boxes):
            rows = torch.arange(start, start + len(boxes), device=device)
            image_picks.append((part, "expert", rows, torch.arange(len(boxes), device=device)))
            start += len(boxes)
        unique, inverse = torch.unique(torch.cat([pick[2] for pick in image_picks]), return_inverse=True)
        roi_lists.append(rois[unique])
        cursor = 0
        for part, kind, chosen, gt_index in image_picks:
            picks.append((i, part, kind, inverse[cursor:cursor + len(chosen)] + offset, gt_index))
            cursor += len(chosen)
        offset += len(unique)
    return roi_lists, picks


def _part_losses(model: DOPE, part: str, logits: torch.Tensor, deltas: torch.Tensor, rois: torch.Tensor,
                 picks: list[tuple], truth: list[dict], expert: list[dict]) -> dict[str, torch.Tensor]:
    """The four loss terms of one part over the batch (module docstring)."""
    terms: dict[str, list[torch.Tensor]] = {"cls": [], "reg": [], "distill_cls": [], "distill_reg": []}
    for i, pick_part, kind, rows, matched in picks:
        if pick_part != part or len(rows) == 0:
            continue
        if kind == "truth":
            targets = truth[i][part]
            positive = matched >= 0
            classes = torch.zeros(len(rows), dtype=torch.int64, device=logits.device)
            classes[positive] = targets.classes[matched[positive]] + 1
            terms["cls"].append(F.cross_entropy(logits[rows].float(), classes, reduction="none"))
            if positive.any():
                terms["reg"].append(_regression_loss(model, part, deltas[rows[positive]], rois[rows[positive]],
                                                     targets, matched[positive]))
        else:
            targets = expert[i][part]
            soft = torch.zeros(len(rows), logits.shape[1], device=logits.device)
            soft[torch.arange(len(rows)), targets.classes + 1] = targets.scores
            soft[:, 0] += 1 - targets.scores
            # KL divergence to the expert's soft label: 0 when the network reproduces it
            terms["distill_cls"].append(F.kl_div(F.log_softmax(logits[rows].float(), dim=1), soft, reduction="none").sum(1))
            terms["distill_reg"].append(_regression_loss(model, part, deltas[rows], rois[rows], targets, matched))
    zero = logits.sum() * 0
    return {f"{part}_{name}": (torch.cat(values).mean() if name.endswith("cls") else torch.stack(values).mean())
            if values else zero for name, values in terms.items()}


def compute_losses(model: DOPE, images: list[torch.Tensor], labels: list[ImageLabels],
                   config: StepConfig | None = None) -> dict[str, torch.Tensor]:
    """Loss terms and ``total`` for a batch of (3, H, W) [0, 1] images and their labels."""
    config = config or StepConfig()
    device = next(model.parameters()).device
    batch, geometry = model.prepare(images)
    features = model.feature_map(batch)
    truth = [{p: _targets(model, lab.pseudo.ground_truth, p, g, device) for p in PART_NAMES}
             for lab, g in zip(labels, geometry)]
    expert = [{p: _targets(model, lab.pseudo.expert, p, g, device) for p in PART_NAMES if p not in lab.labelled_parts}
              for lab, g in zip(labels, geometry)]
    gt_boxes = [torch.cat([t[p].boxes for p in PART_NAMES]) for t in truth]
    proposals, _, rpn_losses = model.rpn(features, tuple(batch.shape[-2:]), [g.resized_size for g in geometry], gt_boxes)
    roi_lists, picks = _sample_rois(proposals, gt_boxes, truth, expert, config, device)
    predictions = model.predict_parts(model.roi_features(features, roi_lists))
    rois = torch.cat(roi_lists)
    losses = dict(rpn_losses)
    for part in PART_NAMES:
        losses.update(_part_losses(model, part, *predictions[part], rois, picks, truth, expert))
    w = config.weights
    losses["total"] = w["rpn"] * (losses["rpn_objectness"] + losses["rpn_box"]) + sum(
        w[name] * losses[f"{part}_{name}"] for part in PART_NAMES for name in ("cls", "reg", "distill_cls", "distill_reg"))
    return losses


def anchor_training_data(labels: list[ImageLabels], part: str) -> dict[str, np.ndarray]:
    """Box-normalised 2D, 3D, masks and hand sides of every ground-truth instance of ``part``."""
    instances = [inst for lab in labels for inst in lab.pseudo.ground_truth if inst.part == part and inst.box is not None]
    if not instances:
        return {}
    boxes = np.stack([inst.box for inst in instances])
    size = np.maximum(boxes[:, 2:] - boxes[:, :2], 1e-6)
    pose2d = np.stack([inst.pose2d for inst in instances])
    joints = pose2d.shape[1]
    pose3d = np.stack([inst.pose3d if inst.pose3d is not None else np.zeros((joints, 3)) for inst in instances])
    visible3d = np.stack([inst.visible3d if inst.visible3d is not None else np.zeros(joints, bool) for inst in instances])
    return {"pose2d": (pose2d - boxes[:, None, :2]) / size[:, None], "visible2d": np.stack([i.visible2d for i in instances]),
            "pose3d": pose3d, "visible3d": visible3d, "is_right": np.array([bool(i.is_right) for i in instances])}
