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

The classification terms are means over every sampled RoI of the batch; the regression terms
are per-image masked means, averaged over the images that have such RoIs.  The total is their
weighted sum.

The whole batch is handled at once on padded (N, R) tensors with masks: per image the RoI row
layout is [proposals | ground truth of each part | expert boxes of each part], each segment
padded to the batch's longest.  There is no loop per image, instance or RoI; the host waits on
the device only for NMS's convergence checks and once for the number of RoIs to pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

from wholebody.models.dope.network import DOPE
from wholebody.models.dope.heads import encode_poses, join_deltas
from wholebody.models.dope.layout import PART_NAMES
from wholebody.nn.anchors import sample_balanced_mask
from wholebody.train.dope.pseudo import PseudoLabels
from wholebody.train.dope.targets import PartTargets, batch_targets, match_rois_batched


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


@dataclass
class PooledRows:
    """The pooled RoIs, K per image (padded): row m is RoI ``position[m]`` of image ``image[m]``.

    ``boxes`` (N * K, 4) input pixels; padding rows repeat a RoI that no loss term uses.
    """

    position: torch.Tensor
    image: torch.Tensor
    boxes: torch.Tensor

    def take(self, per_roi: torch.Tensor) -> torch.Tensor:
        """(N, R) per-RoI values -> (N * K,) values of the pooled rows."""
        return per_roi.gather(1, self.position.view(per_roi.shape[0], -1)).reshape(-1)


def _row_regression(model: DOPE, part: str, deltas: torch.Tensor, rows: PooledRows, targets: PartTargets,
                    gt_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per pooled row: masked L1 sum between its target class's deltas and the encoded target, and the mask sum."""
    classes = targets.classes[rows.image, gt_index]
    anchors = model.anchor_poses(part)[classes].float()
    d2d, d3d = encode_poses(rows.boxes, targets.pose2d[rows.image, gt_index], targets.pose3d[rows.image, gt_index], anchors)
    joints = targets.pose2d.shape[2]
    mask = join_deltas(targets.visible2d[rows.image, gt_index][..., None].expand(-1, joints, 2).float(),
                       targets.visible3d[rows.image, gt_index][..., None].expand(-1, joints, 3).float())
    predicted = deltas[torch.arange(len(classes), device=deltas.device), classes].float()
    return ((predicted - join_deltas(d2d, d3d)).abs() * mask).sum(1), mask.sum(1)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over ``mask`` (0 when the mask is empty)."""
    return torch.where(mask, values, 0).sum() / mask.sum().clamp(min=1)


def _image_mean(l1: torch.Tensor, weight: torch.Tensor, rows: torch.Tensor, image: torch.Tensor, n: int) -> torch.Tensor:
    """Masked L1 mean per image over ``rows``, averaged over the images that have such rows (0 if none)."""
    zeros = torch.zeros(n, device=l1.device)
    total = zeros.index_add(0, image, torch.where(rows, l1, 0))
    count = zeros.index_add(0, image, torch.where(rows, weight, 0))
    present = zeros.index_add(0, image, rows.float()) > 0
    return _masked_mean(total / count.clamp(min=1), present)


def _roi_segments(proposals: torch.Tensor, proposal_valid: torch.Tensor, truth: dict[str, PartTargets],
                  expert: dict[str, PartTargets]) -> tuple[torch.Tensor, torch.Tensor, dict[str, int]]:
    """(N, R, 4) RoIs and (N, R) validity in the row layout of the module docstring, and where each expert segment starts."""
    segments = [(proposals.float(), proposal_valid)] + [(truth[p].boxes, truth[p].valid) for p in PART_NAMES]
    start = sum(boxes.shape[1] for boxes, _ in segments)
    expert_start = {}
    for part in PART_NAMES:
        expert_start[part] = start
        segments.append((expert[part].boxes, expert[part].valid))
        start += expert[part].boxes.shape[1]
    return torch.cat([b for b, _ in segments], dim=1), torch.cat([v for _, v in segments], dim=1), expert_start


def _part_losses(model: DOPE, part: str, logits: torch.Tensor, deltas: torch.Tensor, rows: PooledRows, n: int,
                 chosen: torch.Tensor, matched: torch.Tensor, is_expert: torch.Tensor, expert_index: torch.Tensor,
                 truth: PartTargets, expert: PartTargets) -> dict[str, torch.Tensor]:
    """The four loss terms of one part over the batch (module docstring), from (M,) per-row masks and indices."""
    positive = chosen & (matched >= 0)
    gt_index = matched.clamp(min=0)
    classes = torch.where(positive, truth.classes[rows.image, gt_index] + 1, 0)
    cls = _masked_mean(F.cross_entropy(logits.float(), classes, reduction="none"), chosen)
    reg = _image_mean(*_row_regression(model, part, deltas, rows, truth, gt_index), positive, rows.image, n)
    score = expert.scores[rows.image, expert_index]
    soft = torch.zeros_like(logits, dtype=torch.float32).scatter(1, expert.classes[rows.image, expert_index][:, None] + 1,
                                                                 score[:, None])
    soft[:, 0] += 1 - score
    # KL divergence to the expert's soft label: 0 when the network reproduces it
    kl = F.kl_div(F.log_softmax(logits.float(), dim=1), soft, reduction="none").sum(1)
    distill_reg = _image_mean(*_row_regression(model, part, deltas, rows, expert, expert_index), is_expert, rows.image, n)
    return {f"{part}_cls": cls, f"{part}_reg": reg, f"{part}_distill_cls": _masked_mean(kl, is_expert),
            f"{part}_distill_reg": distill_reg}


def compute_losses(model: DOPE, images: list[torch.Tensor], labels: list[ImageLabels],
                   config: StepConfig | None = None) -> dict[str, torch.Tensor]:
    """Loss terms and ``total`` for a batch of (3, H, W) [0, 1] images and their labels."""
    config = config or StepConfig()
    batch, geometry = model.prepare(images)
    n = len(images)
    # targets first: their host->device copies then overlap nothing the device is busy with
    truth, expert = {}, {}
    for part in PART_NAMES:
        anchors, sides = model.anchor_poses(part), model.hand_classes_per_side
        truth[part] = batch_targets([lab.pseudo.ground_truth for lab in labels], part, anchors, geometry, sides)
        # distillation only on parts the image's data set does not label
        expert[part] = batch_targets([lab.pseudo.expert if part not in lab.labelled_parts else [] for lab in labels],
                                     part, anchors, geometry, sides)
    sizes = torch.as_tensor([g.resized_size for g in geometry], dtype=torch.float32).to(batch.device)
    features = model.feature_map(batch)
    logits, deltas, anchors, proposals, _, proposal_valid = model.rpn.propose(features, tuple(batch.shape[-2:]), sizes)
    gt_boxes = torch.cat([truth[p].boxes for p in PART_NAMES], dim=1)
    gt_valid = torch.cat([truth[p].valid for p in PART_NAMES], dim=1)
    losses = model.rpn.loss(logits, deltas, anchors, gt_boxes, gt_valid)

    rois, roi_valid, expert_start = _roi_segments(proposals, proposal_valid, truth, expert)
    chosen, matched, is_expert = {}, {}, {}
    for part in PART_NAMES:
        matched[part] = match_rois_batched(rois, roi_valid, truth[part].boxes, truth[part].valid, config.fg_iou)
        sample_labels = torch.where(roi_valid, (matched[part] >= 0).long(), -1)
        positive, negative = sample_balanced_mask(sample_labels, config.rois_per_image, config.positive_fraction)
        chosen[part] = positive | negative
        start, width = expert_start[part], expert[part].boxes.shape[1]
        is_expert[part] = torch.zeros_like(roi_valid)
        is_expert[part][:, start:start + width] = expert[part].valid
    # A RoI chosen by several parts is pooled once: each image's needed RoIs are moved to the
    # front of its row and the batch is cut to the longest count (the step's one data-sized sync).
    needed = torch.stack([chosen[p] | is_expert[p] for p in PART_NAMES]).any(dim=0)
    width = max(1, int(needed.sum(dim=1).max()))
    position = torch.sort((~needed).to(torch.uint8), dim=1, stable=True).indices[:, :width]
    boxes = rois.gather(1, position[..., None].expand(-1, -1, 4))
    image = torch.arange(n, device=rois.device)[:, None].expand(-1, width).reshape(-1)
    rows = PooledRows(position.reshape(-1), image, boxes.reshape(-1, 4))
    pooled = model.roi_features_padded(features, boxes).flatten(0, 1)
    predictions = model.predict_parts(pooled)
    for part in PART_NAMES:
        expert_index = (rows.position - expert_start[part]).clamp(min=0, max=expert[part].boxes.shape[1] - 1)
        losses.update(_part_losses(model, part, *predictions[part], rows, n, rows.take(chosen[part]),
                                   rows.take(matched[part]), rows.take(is_expert[part]), expert_index,
                                   truth[part], expert[part]))
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
