"""ZoomNet: a top-down whole-body network with zoom-in hand and face heads (COCO-WholeBody).

Input: a person crop (default 384x288, RGB floats in 0..255; normalised inside the model).

* FeatureNet: two stride-2 3x3 convs and a bottleneck -> F1 (1/2 of the crop, after the first
  conv) and F2 (1/4, after the bottleneck).
* BodyNet: a stem-less HRNet-W32 on F2 -> 38 heatmaps at 1/4: the 23 body+foot keypoints
  (COCO-WholeBody 0..22) and 15 box maps, for face / left hand / right hand (``PART_BOXES``)
  each of ``BOX_POINTS`` = top-left, top-right, bottom-left, bottom-right corner and centre.
* Part boxes: decoded from the box maps (``decode_part_boxes``) at inference, or given by the
  caller (ground truth, jittered) in training; then squared and enlarged (``part_rois``).
* HandHead and FaceHead (HRNetV2-W18, ``PartHead``) on RoIAlign crops of F1 (64x64) and F2
  (32x32) inside the part RoIs -> 64x64 heatmaps of 68 face / 21 hand points covering the RoI.
  Left hands are mirrored (crop features flipped left-right, output flipped back) so that one
  hand head, which only ever sees right hands, serves both.

Coordinates: crop pixels with the origin at the top-left corner of the top-left pixel (pixel
centres at i + 0.5); a heatmap cell u of stride s covers [u s, (u+1) s).  Boxes are
``x1, y1, x2, y2`` in crop pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from wholebody.models.config import StoredConfig
from wholebody.models.zoomnet.decode import decode_heatmaps
from wholebody.models.zoomnet.heads import PartHead, make_heatmap_head
from wholebody.models.zoomnet.layout import (BOX_POINTS, IMAGENET_MEAN, IMAGENET_STD, NUM_BODY_FOOT,  # noqa: F401
                                             PART_BOXES, PART_KEYPOINTS)
from wholebody.nn.blocks import Bottleneck, conv_norm_relu
from wholebody.nn.hrnet import hrnet_tiny, hrnet_w32
from wholebody.nn.roi_align import roi_align_per_image


@dataclass(frozen=True)
class ZoomNetConfig(StoredConfig):
    """Everything needed to rebuild a ZoomNet (stored in checkpoints)."""

    input_size: tuple[int, int] = (384, 288)  # crop (height, width)
    feature_channels: int = 64  # F1 channels; F2 has 4x this (bottleneck output)
    body_backbone: str = "w32"  # "w32" or "tiny"
    part_backbone: str = "w18"  # "w18" or "tiny"
    tiny_width: int = 8
    # "simple": 1x1 conv on the 32-channel high-resolution branch (pose HRNet, the paper's BodyNet);
    # "concat": HRNetV2 head on all branches.  Tiny widths need "concat": 38 heatmaps cannot be
    # linear combinations of only 8 feature channels.
    body_head: str = "simple"
    part_crop: int = 64  # RoI side on F1 and heatmap side of the part heads (F2 RoI: half)
    roi_enlarge: float = 1.25  # part box -> square RoI of side enlarge * max(w, h)
    min_roi_size: float = 8.0  # crop pixels; keeps a collapsed decoded box usable
    # Bottlenecks of BodyNet's stage 1 (w32).  FeatureNet's bottleneck is HRNet-W32's first, so 3
    # makes FeatureNet + BodyNet exactly one HRNet-W32 (ImageNet weights fill it, models.pretrained).
    body_stage1_blocks: int = 3

    # Checkpoints written before a field existed were built with these values.
    ABSENT_FIELD_VALUES: ClassVar[dict] = {"body_stage1_blocks": 4}


class FeatureNet(nn.Module):
    """Two stride-2 3x3 convs and a bottleneck -> (F1 at 1/2, F2 at 1/4)."""

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        self.conv1 = conv_norm_relu(3, channels, 3, 2)
        self.conv2 = conv_norm_relu(channels, channels, 3, 2)
        self.bottleneck = Bottleneck(channels, channels)
        self.f1_channels, self.f2_channels = channels, channels * Bottleneck.expansion

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f1 = self.conv1(images)
        return f1, self.bottleneck(self.conv2(f1))


def decode_part_boxes(box_maps: torch.Tensor, stride: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Part boxes from the 15 corner/centre heatmaps.

    Rule: each of the 5 maps gives its peak (argmax cell, refined by a quarter cell towards the
    higher neighbour, in crop pixels) and peak value.
    The box is centred on the centre peak; its half-width (half-height) is the peak-weighted
    mean of the corners' horizontal (vertical) distances to the centre, i.e. the centred box
    closest (weighted least squares) to the four corner peaks.  The score is the mean peak.

    Args:
        box_maps: (B, 15, h, w), parts in ``PART_BOXES`` order, points in ``BOX_POINTS`` order.
        stride: crop pixels per heatmap cell.
    Returns:
        boxes (B, 3, 4) ``x1, y1, x2, y2`` in crop pixels, scores (B, 3).
    """
    b, _, h, w = box_maps.shape
    cells, peak = decode_heatmaps(box_maps, "default")
    cells = cells.reshape(b, len(PART_BOXES), len(BOX_POINTS), 2)
    peak = peak.reshape(b, len(PART_BOXES), len(BOX_POINTS))
    xs, ys = cells[..., 0] * stride, cells[..., 1] * stride
    weight = peak[..., :4].clamp(min=1e-6)
    weight = weight / weight.sum(dim=-1, keepdim=True)
    cx, cy = xs[..., 4], ys[..., 4]
    half_w = ((xs[..., :4] - cx[..., None]).abs() * weight).sum(dim=-1)
    half_h = ((ys[..., :4] - cy[..., None]).abs() * weight).sum(dim=-1)
    boxes = torch.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], dim=-1)
    return boxes, peak.mean(dim=-1)


def part_rois(boxes: torch.Tensor, enlarge: float = 1.25, min_size: float = 8.0) -> torch.Tensor:
    """Square RoIs around part boxes: same centre, side ``max(enlarge * max(w, h), min_size)``.

    boxes: (..., 4) ``x1, y1, x2, y2`` -> (..., 4).  Squares keep the 64x64 heatmaps isotropic.
    """
    centre = (boxes[..., :2] + boxes[..., 2:]) / 2
    side = (boxes[..., 2:] - boxes[..., :2]).abs().amax(dim=-1, keepdim=True) * enlarge
    half = side.clamp(min=min_size) / 2
    return torch.cat([centre - half, centre + half], dim=-1)


class ZoomNet(nn.Module):
    """ZoomNet (see the module docstring).  ``forward`` returns a dict of heatmaps:

    ``body`` (B, 23, H/4, W/4), ``boxes`` (B, 15, H/4, W/4), ``face`` (B, 68, S, S),
    ``lefthand`` / ``righthand`` (B, 21, S, S) over their RoIs, ``rois`` (B, 3, 4) the part RoIs
    used (crop pixels, ``PART_BOXES`` order) and ``box_scores`` (B, 3) (1 for given RoIs).
    """

    architecture = "zoomnet"
    stride = 4

    def __init__(self, config: ZoomNetConfig = ZoomNetConfig()) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.features = FeatureNet(config.feature_channels)
        f1, f2 = self.features.f1_channels, self.features.f2_channels
        multiscale = config.body_head == "concat"
        if config.body_backbone == "w32":
            self.body = hrnet_w32(in_channels=f2, stem=False, final_multiscale=multiscale,
                                  stage1_blocks=config.body_stage1_blocks)
        elif config.body_backbone == "tiny":
            self.body = hrnet_tiny(in_channels=f2, stem=False, width=config.tiny_width, final_multiscale=multiscale)
        else:
            raise ValueError(f"unknown ZoomNet body backbone {config.body_backbone!r} (expected 'w32' or 'tiny')")
        self.body_head = make_heatmap_head(config.body_head, self.body.out_channels,
                                           NUM_BODY_FOOT + len(PART_BOXES) * len(BOX_POINTS))
        head_args = dict(backbone=config.part_backbone, heatmap_size=config.part_crop, tiny_width=config.tiny_width)
        self.face_head = PartHead(f1, f2, PART_KEYPOINTS["face"], **head_args)
        self.hand_head = PartHead(f1, f2, PART_KEYPOINTS["righthand"], **head_args)

    def forward(self, images: torch.Tensor, rois: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """images: (B, 3, H, W) RGB 0..255; rois: optional (B, 3, 4) part RoIs in crop pixels."""
        f1, f2, body, box_maps = self.forward_body(images)
        if rois is None:
            rois, box_scores = self.decode_rois(box_maps)
        else:
            box_scores = torch.ones(rois.shape[:2], dtype=box_maps.dtype, device=box_maps.device)
        face, left, right = self.forward_parts(f1, f2, rois)
        return {"body": body, "boxes": box_maps, "face": face, "lefthand": left, "righthand": right,
                "rois": rois, "box_scores": box_scores}

    def forward_body(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The body pass: images (B, 3, H, W) RGB 0..255 -> F1, F2, body heatmaps (B, 23, H/4, W/4)
        and box maps (B, 15, H/4, W/4).  Split from ``forward`` so that the flip test can run the
        body on the plain and mirrored crops at once and decode the RoIs from the plain half only."""
        f1, f2 = self.features((images - self.mean) / self.std)
        maps = self.body_head(self.body(f2))
        return f1, f2, maps[:, :NUM_BODY_FOOT], maps[:, NUM_BODY_FOOT:]

    def decode_rois(self, box_maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Box maps (B, 15, h, w) -> part RoIs (B, 3, 4) in crop pixels and box scores (B, 3)."""
        # float32: under bf16 autocast a bf16 peak position would be off by up to a cell
        boxes, box_scores = decode_part_boxes(box_maps.detach().float(), self.stride)
        return part_rois(boxes, self.config.roi_enlarge, self.config.min_roi_size), box_scores

    def forward_parts(self, f1: torch.Tensor, f2: torch.Tensor,
                      rois: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The part pass: RoIAlign of F1 / F2 inside ``rois`` (B, 3, 4) and the two heads ->
        face (B, 68, S, S), left hand and right hand (B, 21, S, S) heatmaps over their RoIs."""
        size = self.config.part_crop
        crops1 = roi_align_per_image(f1, rois, size, spatial_scale=0.5, sampling_ratio=2, aligned=True)
        crops2 = roi_align_per_image(f2, rois, size // 2, spatial_scale=0.25, sampling_ratio=2, aligned=True)
        face = self.face_head(crops1[:, 0], crops2[:, 0])
        # Mirror left hands: the hand head sees every hand as a right hand.
        hands1 = torch.cat([crops1[:, 1].flip(-1), crops1[:, 2]], dim=0)
        hands2 = torch.cat([crops2[:, 1].flip(-1), crops2[:, 2]], dim=0)
        hands = self.hand_head(hands1, hands2)
        batch = crops1.shape[0]
        left, right = hands[:batch], hands[batch:]  # slicing (not chunk) keeps ONNX batch-dynamic
        return face, left.flip(-1), right


def zoomnet(input_size: tuple[int, int] = (384, 288)) -> ZoomNet:
    """Full-size ZoomNet: HRNet-W32 BodyNet, HRNetV2-W18 hand and face heads."""
    return ZoomNet(ZoomNetConfig(input_size=input_size))


def zoomnet_tiny(input_size: tuple[int, int] = (256, 192), width: int = 8) -> ZoomNet:
    """Test-size ZoomNet (tiny HRNets everywhere, HRNetV2 body head, 32x32 part heatmaps)."""
    return ZoomNet(ZoomNetConfig(input_size=input_size, feature_channels=2 * width, body_backbone="tiny",
                                 part_backbone="tiny", tiny_width=width, body_head="concat", part_crop=32))
