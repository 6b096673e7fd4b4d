"""The DOPE training step as it was before vectorising (commit af12cb7), kept as the test reference.

Per-image / per-part Python loops, per-image RPN proposals and losses, the greedy NMS loop.
Only ``test_dope_vectorised.py`` uses it: the vectorised step must give the same losses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from wholebody.models.dope.anchor_poses import assign_anchor_class
from wholebody.models.dope.heads import encode_poses, join_deltas
from wholebody.models.dope.layout import PART_NAMES
from wholebody.nn.anchors import BELOW_LOW_THRESHOLD, BETWEEN_THRESHOLDS
from wholebody.nn.nms import box_iou
from wholebody.nn.rpn import clip_boxes


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


def match_anchors(gt_boxes: torch.Tensor, anchors: torch.Tensor, high: float = 0.7, low: float = 0.3,
                  allow_low_quality: bool = True) -> torch.Tensor:
    """For each anchor, the index of its ground-truth box, or a negative code.

    An anchor whose best IoU is >= ``high`` matches that box; < ``low`` gives
    ``BELOW_LOW_THRESHOLD`` (background); in between gives ``BETWEEN_THRESHOLDS`` (ignored).
    With ``allow_low_quality``, every anchor that has the highest IoU with some ground-truth box
    (ties included, IoU > 0) keeps its best match, so each box gets at least one anchor.

    Args:
        gt_boxes: (G, 4) x1y1x2y2; G may be 0 (every anchor is then background).
        anchors: (A, 4) x1y1x2y2.
    Returns:
        (A,) int64.
    """
    if gt_boxes.numel() == 0:
        return torch.full((len(anchors),), BELOW_LOW_THRESHOLD, dtype=torch.int64, device=anchors.device)
    iou = box_iou(gt_boxes, anchors)  # (G, A)
    best_iou, matches = iou.max(dim=0)
    original = matches.clone()
    matches[best_iou < low] = BELOW_LOW_THRESHOLD
    matches[(best_iou >= low) & (best_iou < high)] = BETWEEN_THRESHOLDS
    if allow_low_quality:
        best_per_gt = iou.max(dim=1, keepdim=True).values
        is_best = (iou == best_per_gt) & (best_per_gt > 0)
        anchor_index = torch.nonzero(is_best)[:, 1]
        matches[anchor_index] = original[anchor_index]
    return matches


def sample_balanced(labels, batch_size, positive_fraction, generator=None):
    positive = torch.nonzero(labels >= 1).flatten()
    negative = torch.nonzero(labels == 0).flatten()
    num_pos = min(int(batch_size * positive_fraction), positive.numel())
    num_neg = min(batch_size - num_pos, negative.numel())
    pick_pos = torch.randperm(positive.numel(), generator=generator)[:num_pos].to(positive.device)
    pick_neg = torch.randperm(negative.numel(), generator=generator)[:num_neg].to(negative.device)
    return positive[pick_pos], negative[pick_neg]


def nms(boxes, scores, iou_threshold):
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.int64, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    overlaps = torch.triu(box_iou(boxes[order], boxes[order]) > iou_threshold, diagonal=1).cpu()
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= overlaps[i]
    return order[torch.tensor(keep, dtype=torch.int64, device=order.device)]


def select_proposals(rpn, boxes, logits, image_size):
    pre_n, post_n = rpn.top_n()
    top = logits.topk(min(pre_n, logits.numel())).indices
    boxes = clip_boxes(boxes[top], image_size)
    scores = torch.sigmoid(logits[top])
    widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    large = (widths >= rpn.settings.min_box_size) & (heights >= rpn.settings.min_box_size)
    boxes, scores = boxes[large], scores[large]
    keep = nms(boxes.float(), scores.float(), rpn.settings.nms_threshold)[:post_n]
    return boxes[keep], scores[keep]


def rpn_forward(rpn, features, input_size, image_sizes, gt_boxes):
    logits, deltas = rpn.head(features)
    anchors = rpn.anchor_generator(input_size, tuple(features.shape[-2:]), features.device, torch.float32)
    proposals = []
    with torch.no_grad():
        for i, size in enumerate(image_sizes):
            decoded = rpn.box_coder.decode(deltas[i].detach().float(), anchors)
            proposals.append(select_proposals(rpn, decoded, logits[i].detach().float(), size)[0])
    return proposals, rpn_loss(rpn, logits, deltas, anchors, gt_boxes)


def rpn_loss(rpn, logits, deltas, anchors, gt_boxes):
    s = rpn.settings
    positives, negatives, targets = [], [], []
    for i, boxes in enumerate(gt_boxes):
        boxes = boxes.to(anchors)
        matches = match_anchors(boxes, anchors, s.fg_iou, s.bg_iou)
        labels = torch.where(matches >= 0, 1, torch.where(matches == -1, 0, -1))
        pos, neg = sample_balanced(labels, s.batch_size_per_image, s.positive_fraction)
        offset = i * len(anchors)
        positives.append(pos + offset)
        negatives.append(neg + offset)
        targets.append(rpn.box_coder.encode(boxes[matches[pos]], anchors[pos]) if len(pos) else anchors.new_zeros((0, 4)))
    pos = torch.cat(positives)
    sampled = torch.cat([pos, torch.cat(negatives)])
    flat_logits = logits.reshape(-1).float()
    labels = torch.cat([torch.ones(len(pos)), torch.zeros(len(sampled) - len(pos))]).to(flat_logits)
    objectness = F.binary_cross_entropy_with_logits(flat_logits[sampled], labels) if len(sampled) else flat_logits.sum() * 0
    box = F.smooth_l1_loss(deltas.reshape(-1, 4)[pos].float(), torch.cat(targets), beta=1 / 9, reduction="sum")
    return {"rpn_objectness": objectness, "rpn_box": box / max(1, len(sampled))}


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
                   config) -> dict[str, torch.Tensor]:
    """Loss terms and ``total`` for a batch of (3, H, W) [0, 1] images and their labels."""
    device = next(model.parameters()).device
    batch, geometry = model.prepare(images)
    features = model.feature_map(batch)
    truth = [{p: _targets(model, lab.pseudo.ground_truth, p, g, device) for p in PART_NAMES}
             for lab, g in zip(labels, geometry)]
    expert = [{p: _targets(model, lab.pseudo.expert, p, g, device) for p in PART_NAMES if p not in lab.labelled_parts}
              for lab, g in zip(labels, geometry)]
    gt_boxes = [torch.cat([t[p].boxes for p in PART_NAMES]) for t in truth]
    proposals, rpn_losses = rpn_forward(model.rpn, features, tuple(batch.shape[-2:]), [g.resized_size for g in geometry], gt_boxes)
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
