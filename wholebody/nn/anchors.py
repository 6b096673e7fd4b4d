"""Anchor boxes, box coding and anchor matching for a single-level Region Proposal Network.

Conventions (torchvision's Faster R-CNN, which DOPE builds on):

* Boxes are ``(x1, y1, x2, y2)`` in pixels of the network input (the resized image); width is
  ``x2 - x1`` (no +1 pixel).
* An aspect ratio is height / width.  For a size ``s`` and ratio ``r`` the base anchor has
  height ``s * sqrt(r)`` and width ``s / sqrt(r)`` and is centred on the origin, its corners
  rounded to whole pixels.  Base anchors are ordered ratio-major (all sizes of the first
  ratio, then the next ratio).
* Anchors are placed at every feature-map cell, centred on the cell's top-left input pixel
  ``(j * stride, i * stride)``; the full list is cell-major (row, then column), then base anchor,
  which matches the RPN head's flattened output order.
* Box deltas ``(dx, dy, dw, dh)`` are relative to the reference box's centre and size and
  scaled by ``weights`` (1, 1, 1, 1 for the RPN); ``dw`` / ``dh`` are clamped at log(1000/16)
  before ``exp`` so a wild prediction cannot overflow.
"""

from __future__ import annotations

import math

import torch

from wholebody.nn.nms import box_iou

BOX_DELTA_CLIP = math.log(1000.0 / 16)

# Matcher codes for anchors that match no ground truth.
BELOW_LOW_THRESHOLD = -1
BETWEEN_THRESHOLDS = -2


def base_anchors(sizes: tuple[float, ...], aspect_ratios: tuple[float, ...]) -> torch.Tensor:
    """(len(ratios) * len(sizes), 4) anchors centred on (0, 0), ratio-major, rounded corners."""
    scales = torch.as_tensor(sizes, dtype=torch.float32)
    ratios = torch.as_tensor(aspect_ratios, dtype=torch.float32)
    height_factor = torch.sqrt(ratios)
    widths = (scales[None, :] / height_factor[:, None]).reshape(-1)
    heights = (scales[None, :] * height_factor[:, None]).reshape(-1)
    return (torch.stack([-widths, -heights, widths, heights], dim=1) / 2).round()


class AnchorGenerator:
    """Anchors of one feature map: ``len(sizes) * len(aspect_ratios)`` per cell.

    Args:
        sizes: anchor sizes in input pixels (square-root of the area).
        aspect_ratios: height / width ratios.
    """

    def __init__(self, sizes: tuple[float, ...] = (32, 64, 128, 256, 512),
                 aspect_ratios: tuple[float, ...] = (0.5, 1.0, 2.0)) -> None:
        self.sizes = tuple(float(s) for s in sizes)
        self.aspect_ratios = tuple(float(r) for r in aspect_ratios)
        self.cell_anchors = base_anchors(self.sizes, self.aspect_ratios)

    @property
    def num_anchors_per_location(self) -> int:
        return len(self.cell_anchors)

    def grid_anchors(self, feature_size: tuple[int, int], stride: tuple[int, int],
                     device: torch.device | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """(H * W * A, 4) anchors for an (H, W) feature map with (stride_y, stride_x) input pixels per cell."""
        height, width = feature_size
        shifts_x = torch.arange(width, dtype=torch.float32, device=device) * stride[1]
        shifts_y = torch.arange(height, dtype=torch.float32, device=device) * stride[0]
        grid_y, grid_x = torch.meshgrid(shifts_y, shifts_x, indexing="ij")
        shifts = torch.stack([grid_x, grid_y, grid_x, grid_y], dim=-1).reshape(-1, 1, 4)
        anchors = shifts + self.cell_anchors.to(device)[None]
        return anchors.reshape(-1, 4).to(dtype)

    def __call__(self, image_size: tuple[int, int], feature_size: tuple[int, int],
                 device: torch.device | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Anchors for a padded input of ``image_size`` (H, W) whose features are ``feature_size``.

        The stride is the integer ratio of the two sizes, as in torchvision.
        """
        stride = (image_size[0] // feature_size[0], image_size[1] // feature_size[1])
        return self.grid_anchors(feature_size, stride, device, dtype)


class BoxCoder:
    """Encode boxes as deltas from reference boxes and back (see the module docstring)."""

    def __init__(self, weights: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0),
                 clip: float = BOX_DELTA_CLIP) -> None:
        self.weights = weights
        self.clip = clip

    def encode(self, targets: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
        """(K, 4) target boxes relative to (K, 4) reference boxes -> (K, 4) deltas."""
        wx, wy, ww, wh = self.weights
        ref_w = references[:, 2] - references[:, 0]
        ref_h = references[:, 3] - references[:, 1]
        ref_cx = references[:, 0] + 0.5 * ref_w
        ref_cy = references[:, 1] + 0.5 * ref_h
        gt_w = targets[:, 2] - targets[:, 0]
        gt_h = targets[:, 3] - targets[:, 1]
        gt_cx = targets[:, 0] + 0.5 * gt_w
        gt_cy = targets[:, 1] + 0.5 * gt_h
        return torch.stack([
            wx * (gt_cx - ref_cx) / ref_w,
            wy * (gt_cy - ref_cy) / ref_h,
            ww * torch.log(gt_w / ref_w),
            wh * torch.log(gt_h / ref_h),
        ], dim=1)

    def decode(self, deltas: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
        """(K, 4) deltas applied to (K, 4) reference boxes -> (K, 4) boxes."""
        wx, wy, ww, wh = self.weights
        references = references.to(deltas.dtype)
        ref_w = references[:, 2] - references[:, 0]
        ref_h = references[:, 3] - references[:, 1]
        ref_cx = references[:, 0] + 0.5 * ref_w
        ref_cy = references[:, 1] + 0.5 * ref_h
        dw = (deltas[:, 2] / ww).clamp(max=self.clip)
        dh = (deltas[:, 3] / wh).clamp(max=self.clip)
        center_x = deltas[:, 0] / wx * ref_w + ref_cx
        center_y = deltas[:, 1] / wy * ref_h + ref_cy
        half_w = 0.5 * torch.exp(dw) * ref_w
        half_h = 0.5 * torch.exp(dh) * ref_h
        return torch.stack([center_x - half_w, center_y - half_h, center_x + half_w, center_y + half_h], dim=1)


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
    valid = torch.ones((1, len(gt_boxes)), dtype=torch.bool, device=anchors.device)
    return match_anchors_batched(gt_boxes[None].to(anchors), valid, anchors, high, low, allow_low_quality)[0]


def match_anchors_batched(gt_boxes: torch.Tensor, gt_valid: torch.Tensor, anchors: torch.Tensor, high: float = 0.7,
                          low: float = 0.3, allow_low_quality: bool = True) -> torch.Tensor:
    """:func:`match_anchors` for a batch of images at once, without a host synchronisation.

    Args:
        gt_boxes: (N, G, 4) padded ground-truth boxes; gt_valid: (N, G) bool, false on padding.
        anchors: (A, 4), shared by the images (one padded batch).
    Returns:
        (N, A) int64 indices into each image's G boxes, or the negative codes.
    """
    n, g = gt_valid.shape
    if g == 0:
        return torch.full((n, len(anchors)), BELOW_LOW_THRESHOLD, dtype=torch.int64, device=anchors.device)
    # padding gets IoU -1: never the best match, and an image without boxes is all background
    iou = torch.where(gt_valid[:, :, None], box_iou(gt_boxes, anchors[None]), -1.0)  # (N, G, A)
    best_iou, original = iou.max(dim=1)
    matches = torch.where(best_iou < low, BELOW_LOW_THRESHOLD, torch.where(best_iou < high, BETWEEN_THRESHOLDS, original))
    if allow_low_quality:
        best_per_gt = iou.max(dim=2, keepdim=True).values
        is_best = ((iou == best_per_gt) & (best_per_gt > 0) & gt_valid[:, :, None]).any(dim=1)
        matches = torch.where(is_best, original, matches)
    return matches


def sample_balanced_mask(labels: torch.Tensor, batch_size: int, positive_fraction: float,
                         generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`sample_balanced` for a batch of images, as masks, without a host synchronisation.

    Each image draws a uniformly random subset: at most ``batch_size * positive_fraction``
    positives, then negatives up to ``batch_size`` in all (the same counts as
    :func:`sample_balanced`; the random draws differ).

    Args:
        labels: (N, A) with 1 = positive, 0 = negative, -1 = ignore.
    Returns:
        (positive, negative) (N, A) bool masks.
    """
    if labels.shape[1] == 0:
        empty = torch.zeros_like(labels, dtype=torch.bool)
        return empty, empty
    # a random permutation per image: rank each candidate among its kind in that order
    order = torch.rand(labels.shape, generator=generator, device="cpu" if generator is not None else labels.device)
    order = order.to(labels.device).argsort(dim=1)
    permuted = labels.gather(1, order)
    pos_rank = (permuted >= 1).cumsum(dim=1)
    neg_rank = (permuted == 0).cumsum(dim=1)
    num_pos = pos_rank[:, -1:].clamp(max=int(batch_size * positive_fraction))
    take_pos = (permuted >= 1) & (pos_rank <= num_pos)
    take_neg = (permuted == 0) & (neg_rank <= batch_size - num_pos)
    positive = torch.zeros_like(take_pos).scatter_(1, order, take_pos)
    negative = torch.zeros_like(take_neg).scatter_(1, order, take_neg)
    return positive, negative


def sample_balanced(labels: torch.Tensor, batch_size: int, positive_fraction: float,
                    generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Random positive and negative indices for one image's loss (:func:`sample_balanced_mask` as indices).

    Args:
        labels: (A,) with 1 = positive, 0 = negative, -1 = ignore.
        batch_size: total samples wanted; at most ``batch_size * positive_fraction`` positives,
            the rest filled with negatives.
    Returns:
        (positive_indices, negative_indices), int64.
    """
    positive, negative = sample_balanced_mask(labels[None], batch_size, positive_fraction, generator)
    return positive[0].nonzero().flatten(), negative[0].nonzero().flatten()
