"""Region Proposal Network on one feature map (Faster R-CNN's, as DOPE uses it on ResNet C4).

The head is a 3x3 conv + ReLU followed by two 1x1 convs: one objectness logit and four box
deltas per anchor.  Proposals are decoded from the anchors (``anchors.BoxCoder``, unit
weights), clipped to each image's valid area, freed of tiny boxes, cut to the ``pre_nms_top_n``
best, suppressed by NMS at ``nms_threshold`` and cut to ``post_nms_top_n``.  Training matches
anchors to the ground-truth boxes (IoU >= 0.7 positive, < 0.3 negative), samples 256 anchors
per image with up to half positives, and returns a binary cross-entropy objectness loss and a
smooth-L1 (beta 1/9) box loss, both normalised by the number of sampled anchors.

All boxes are ``(x1, y1, x2, y2)`` in pixels of the network input (the resized image).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from wholebody.nn.anchors import AnchorGenerator, BoxCoder, match_anchors, sample_balanced
from wholebody.nn.nms import nms


class RPNHead(nn.Module):
    """Shared 3x3 conv, then per-anchor objectness (A channels) and box deltas (4A channels)."""

    def __init__(self, in_channels: int, num_anchors: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, in_channels, 3, padding=1)
        self.cls_logits = nn.Conv2d(in_channels, num_anchors, 1)
        self.bbox_pred = nn.Conv2d(in_channels, num_anchors * 4, 1)
        for layer in (self.conv, self.cls_logits, self.bbox_pred):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, C, H, W) -> objectness (N, H*W*A) and deltas (N, H*W*A, 4), in anchor order."""
        hidden = F.relu(self.conv(features))
        logits = self.cls_logits(hidden)
        deltas = self.bbox_pred(hidden)
        n, a, h, w = logits.shape
        logits = logits.permute(0, 2, 3, 1).reshape(n, -1)
        deltas = deltas.view(n, a, 4, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, 4)
        return logits, deltas


@dataclass
class RPNSettings:
    """Proposal and training parameters (torchvision's defaults, which DOPE keeps)."""

    pre_nms_top_n_train: int = 2000
    post_nms_top_n_train: int = 2000
    pre_nms_top_n_test: int = 1000
    post_nms_top_n_test: int = 1000
    nms_threshold: float = 0.7
    fg_iou: float = 0.7
    bg_iou: float = 0.3
    batch_size_per_image: int = 256
    positive_fraction: float = 0.5
    min_box_size: float = 1e-3


def clip_boxes(boxes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Clamp (K, 4) boxes into an image of ``size`` = (H, W)."""
    height, width = size
    x = boxes[:, 0::2].clamp(0, width)
    y = boxes[:, 1::2].clamp(0, height)
    return torch.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], dim=1)


class RegionProposalNetwork(nn.Module):
    """Anchors + head + proposal selection + (in training) the RPN losses."""

    def __init__(self, in_channels: int, anchor_generator: AnchorGenerator | None = None,
                 settings: RPNSettings | None = None) -> None:
        super().__init__()
        self.anchor_generator = anchor_generator or AnchorGenerator()
        self.head = RPNHead(in_channels, self.anchor_generator.num_anchors_per_location)
        self.settings = settings or RPNSettings()
        self.box_coder = BoxCoder()

    def top_n(self) -> tuple[int, int]:
        s = self.settings
        return (s.pre_nms_top_n_train, s.post_nms_top_n_train) if self.training else (s.pre_nms_top_n_test, s.post_nms_top_n_test)

    def select_proposals(self, boxes: torch.Tensor, logits: torch.Tensor, image_size: tuple[int, int]
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """One image's decoded boxes (K, 4) and logits (K,) -> proposals (P, 4) and their probabilities (P,)."""
        pre_n, post_n = self.top_n()
        top = logits.topk(min(pre_n, logits.numel())).indices
        boxes = clip_boxes(boxes[top], image_size)
        scores = torch.sigmoid(logits[top])
        widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        large = (widths >= self.settings.min_box_size) & (heights >= self.settings.min_box_size)
        boxes, scores = boxes[large], scores[large]
        keep = nms(boxes.float(), scores.float(), self.settings.nms_threshold)[:post_n]
        return boxes[keep], scores[keep]

    def forward(self, features: torch.Tensor, input_size: tuple[int, int], image_sizes: list[tuple[int, int]],
                gt_boxes: list[torch.Tensor] | None = None
                ) -> tuple[list[torch.Tensor], list[torch.Tensor], dict[str, torch.Tensor]]:
        """Proposals for a batch.

        Args:
            features: (N, C, H, W) feature map of the padded batch.
            input_size: (H, W) of the padded input batch (sets the anchor stride).
            image_sizes: per image, the (H, W) of its resized content inside the padding.
            gt_boxes: per image, (G, 4) ground-truth boxes in input pixels; required in training.
        Returns:
            proposals (per image (P, 4)), their objectness probabilities (per image (P,)), and the
            losses ``rpn_objectness`` / ``rpn_box`` (empty dict when not training).
        """
        logits, deltas = self.head(features)
        anchors = self.anchor_generator(input_size, tuple(features.shape[-2:]), features.device, torch.float32)
        proposals, scores = [], []
        with torch.no_grad():
            for i, size in enumerate(image_sizes):
                decoded = self.box_coder.decode(deltas[i].detach().float(), anchors)
                boxes, probs = self.select_proposals(decoded, logits[i].detach().float(), size)
                proposals.append(boxes)
                scores.append(probs)
        losses: dict[str, torch.Tensor] = {}
        if self.training:
            if gt_boxes is None:
                raise ValueError("RegionProposalNetwork: gt_boxes are required in training mode")
            losses = self.loss(logits, deltas, anchors, gt_boxes)
        return proposals, scores, losses

    def loss(self, logits: torch.Tensor, deltas: torch.Tensor, anchors: torch.Tensor,
             gt_boxes: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """Objectness BCE and smooth-L1 box loss over the sampled anchors of every image."""
        s = self.settings
        positives, negatives, targets = [], [], []
        for i, boxes in enumerate(gt_boxes):
            boxes = boxes.to(anchors)
            matches = match_anchors(boxes, anchors, s.fg_iou, s.bg_iou)
            labels = torch.where(matches >= 0, 1, torch.where(matches == -1, 0, -1))
            pos, neg = sample_balanced(labels, s.batch_size_per_image, s.positive_fraction)
            offset = i * len(anchors)
            positives.append(pos + offset)
            negatives.append(neg + offset)
            targets.append(self.box_coder.encode(boxes[matches[pos]], anchors[pos]) if len(pos) else anchors.new_zeros((0, 4)))
        pos = torch.cat(positives)
        sampled = torch.cat([pos, torch.cat(negatives)])
        flat_logits = logits.reshape(-1).float()
        labels = torch.cat([torch.ones(len(pos)), torch.zeros(len(sampled) - len(pos))]).to(flat_logits)
        objectness = F.binary_cross_entropy_with_logits(flat_logits[sampled], labels) if len(sampled) else flat_logits.sum() * 0
        box = F.smooth_l1_loss(deltas.reshape(-1, 4)[pos].float(), torch.cat(targets), beta=1 / 9, reduction="sum")
        return {"rpn_objectness": objectness, "rpn_box": box / max(1, len(sampled))}
