"""Region Proposal Network on one feature map (Faster R-CNN's, as DOPE uses it on ResNet C4).

The head is a 3x3 conv + ReLU followed by two 1x1 convs: one objectness logit and four box
deltas per anchor.  Proposals are decoded from the anchors (``anchors.BoxCoder``, unit
weights), clipped to each image's valid area, freed of tiny boxes, cut to the ``pre_nms_top_n``
best, suppressed by NMS at ``nms_threshold`` and cut to ``post_nms_top_n``.  Training matches
anchors to the ground-truth boxes (IoU >= 0.7 positive, < 0.3 negative), samples 256 anchors
per image with up to half positives, and returns a binary cross-entropy objectness loss and a
smooth-L1 (beta 1/9) box loss, both normalised by the number of sampled anchors.

All boxes are ``(x1, y1, x2, y2)`` in pixels of the network input (the resized image).
Proposals and losses are computed for the whole batch at once on padded (N, ...) tensors with
validity masks, so training does not wait on the host once per image or per box.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from wholebody.nn.anchors import AnchorGenerator, BoxCoder, match_anchors_batched, sample_balanced_mask
from wholebody.nn.nms import nms_sorted_mask


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


def clip_boxes(boxes: torch.Tensor, size: tuple[int, int] | torch.Tensor) -> torch.Tensor:
    """Clamp (..., K, 4) boxes into images of ``size`` = (H, W), or per image (N, 2) sizes."""
    size = torch.as_tensor(size, dtype=boxes.dtype, device=boxes.device)
    limit = torch.stack([size[..., 1], size[..., 0]] * 2, dim=-1)[..., None, :]  # (W, H, W, H)
    return torch.minimum(boxes.clamp(min=0), limit)


def pad_boxes(boxes: list[torch.Tensor], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image (G_i, 4) boxes -> (N, max G_i, 4) zero-padded boxes and their (N, max G_i) validity."""
    size = max((len(b) for b in boxes), default=0)
    padded = torch.zeros((len(boxes), size, 4), device=device)
    valid = torch.zeros((len(boxes), size), dtype=torch.bool, device=device)
    for i, b in enumerate(boxes):
        padded[i, :len(b)] = b.to(padded)
        valid[i, :len(b)] = True
    return padded, valid


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
        size = torch.as_tensor([image_size], dtype=torch.float32, device=boxes.device)
        boxes, scores, valid = self.select_proposals_batched(boxes[None], logits[None], size)
        return boxes[0][valid[0]], scores[0][valid[0]]

    def select_proposals_batched(self, boxes: torch.Tensor, logits: torch.Tensor, image_sizes: torch.Tensor
                                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Proposals of a batch, padded.

        Args:
            boxes: (N, K, 4) decoded boxes; logits: (N, K); image_sizes: (N, 2) (H, W) of each
                image's content.
        Returns:
            boxes (N, P, 4), probabilities (N, P) and validity (N, P); the valid proposals of an
            image come first, by decreasing score, as the per-image pipeline orders them.
        """
        pre_n, post_n = self.top_n()
        top = logits.topk(min(pre_n, logits.shape[1]), dim=1).indices
        boxes = clip_boxes(boxes.gather(1, top[..., None].expand(-1, -1, 4)), image_sizes.to(boxes))
        scores = torch.sigmoid(logits.gather(1, top))
        widths, heights = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
        large = (widths >= self.settings.min_box_size) & (heights >= self.settings.min_box_size)
        keep = nms_sorted_mask(boxes.float(), large, self.settings.nms_threshold)
        keep &= keep.cumsum(dim=1) <= post_n
        # move the kept proposals to the front of each row, keeping their score order
        order = torch.sort((~keep).to(torch.uint8), dim=1, stable=True).indices[:, :min(post_n, keep.shape[1])]
        return (boxes.gather(1, order[..., None].expand(-1, -1, 4)), scores.gather(1, order), keep.gather(1, order))

    def propose(self, features: torch.Tensor, input_size: tuple[int, int], image_sizes: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Head outputs and padded proposals of a batch (no host synchronisation but NMS's few).

        Returns:
            logits (N, A), deltas (N, A, 4), anchors (A, 4), and from
            :meth:`select_proposals_batched`: proposals (N, P, 4), probabilities and validity (N, P).
        """
        logits, deltas = self.head(features)
        anchors = self.anchor_generator(input_size, tuple(features.shape[-2:]), features.device, torch.float32)
        with torch.no_grad():
            decoded = self.box_coder.decode(deltas.detach().float().reshape(-1, 4),
                                            anchors.repeat(len(deltas), 1)).view(deltas.shape)
            proposals = self.select_proposals_batched(decoded, logits.detach().float(), image_sizes)
        return (logits, deltas, anchors, *proposals)

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
        sizes = torch.as_tensor(image_sizes, dtype=torch.float32, device=features.device).reshape(-1, 2)
        logits, deltas, anchors, boxes, probs, valid = self.propose(features, input_size, sizes)
        proposals = [b[v] for b, v in zip(boxes, valid)]
        scores = [p[v] for p, v in zip(probs, valid)]
        losses: dict[str, torch.Tensor] = {}
        if self.training:
            if gt_boxes is None:
                raise ValueError("RegionProposalNetwork: gt_boxes are required in training mode")
            losses = self.loss(logits, deltas, anchors, *pad_boxes(gt_boxes, features.device))
        return proposals, scores, losses

    def loss(self, logits: torch.Tensor, deltas: torch.Tensor, anchors: torch.Tensor, gt_boxes: torch.Tensor,
             gt_valid: torch.Tensor) -> dict[str, torch.Tensor]:
        """Objectness BCE and smooth-L1 box loss over the sampled anchors of every image.

        Args:
            logits: (N, A); deltas: (N, A, 4); anchors: (A, 4).
            gt_boxes: (N, G, 4) padded ground truth; gt_valid: (N, G) bool.
        """
        s = self.settings
        matches = match_anchors_batched(gt_boxes.to(anchors), gt_valid, anchors, s.fg_iou, s.bg_iou)  # (N, A)
        labels = torch.where(matches >= 0, 1, torch.where(matches == -1, 0, -1))
        positive, negative = sample_balanced_mask(labels, s.batch_size_per_image, s.positive_fraction)
        sampled = positive | negative
        count = sampled.sum().clamp(min=1).to(torch.float32)
        flat_logits = logits.float()
        bce = F.binary_cross_entropy_with_logits(flat_logits, positive.to(flat_logits), reduction="none")
        objectness = torch.where(sampled, bce, 0).sum() / count
        matched = gt_boxes.to(anchors).gather(1, matches.clamp(min=0)[..., None].expand(-1, -1, 4))
        # encode every anchor (padding included) and keep the positives: no data-dependent shapes
        targets = self.box_coder.encode(torch.where(positive[..., None], matched, anchors).reshape(-1, 4),
                                        anchors.repeat(len(logits), 1)).view(deltas.shape)
        box = F.smooth_l1_loss(deltas.float(), targets, beta=1 / 9, reduction="none").sum(-1)
        return {"rpn_objectness": objectness, "rpn_box": torch.where(positive, box, 0).sum() / count}
