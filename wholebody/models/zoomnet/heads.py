"""Heatmap heads and ZoomNet's zoom-in part head.

* ``HeatmapHead``: a 1x1 conv from the highest-resolution HRNet branch (pose HRNet style).
* ``ConcatHeatmapHead``: HRNetV2 head: all branches upsampled and concatenated, a 1x1
  conv + norm + ReLU mixing layer, then a 1x1 conv to the heatmaps.
* ``PartHead``: ZoomNet's HandHead / FaceHead.  It receives RoIAlign crops of the shared
  features inside a part box (F1 at 64x64 and F2 at 32x32), fuses them at 64x64 (F2 upsampled,
  concatenated, 1x1 conv) and runs a stem-less HRNetV2 on the result; the heatmaps cover the
  box with ``heatmap_size x heatmap_size`` cells.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from wholebody.nn.blocks import conv_norm_relu
from wholebody.nn.hrnet import HRNet, concat_branches, hrnet_tiny, hrnetv2_w18


def init_heatmap_conv(conv: nn.Conv2d) -> nn.Conv2d:
    """Small normal weights and zero bias: heatmaps start near 0, the bulk of the target."""
    nn.init.normal_(conv.weight, std=0.001)
    nn.init.zeros_(conv.bias)
    return conv


class HeatmapHead(nn.Module):
    """1x1 conv on the first (highest-resolution) branch -> ``num_outputs`` heatmaps."""

    def __init__(self, in_channels: int, num_outputs: int) -> None:
        super().__init__()
        self.conv = init_heatmap_conv(nn.Conv2d(in_channels, num_outputs, 1))

    def forward(self, branches: list[torch.Tensor]) -> torch.Tensor:
        return self.conv(branches[0])


class ConcatHeatmapHead(nn.Module):
    """HRNetV2 head on the concatenation of every branch (e.g. 18+36+72+144 = 270 channels)."""

    def __init__(self, branch_channels: list[int], num_outputs: int) -> None:
        super().__init__()
        total = sum(branch_channels)
        self.mix = conv_norm_relu(total, total, kernel=1)
        self.conv = init_heatmap_conv(nn.Conv2d(total, num_outputs, 1))

    def forward(self, branches: list[torch.Tensor]) -> torch.Tensor:
        return self.conv(self.mix(concat_branches(branches)))


def make_heatmap_head(kind: str, branch_channels: list[int], num_outputs: int) -> nn.Module:
    """``"simple"`` (:class:`HeatmapHead`) or ``"concat"`` (:class:`ConcatHeatmapHead`)."""
    if kind == "simple":
        return HeatmapHead(branch_channels[0], num_outputs)
    if kind == "concat":
        return ConcatHeatmapHead(branch_channels, num_outputs)
    raise ValueError(f"unknown heatmap head {kind!r} (expected 'simple' or 'concat')")


def make_part_backbone(kind: str, in_channels: int, tiny_width: int = 8) -> HRNet:
    """The HRNet a part head runs on its fused crop: ``"w18"`` (HRNetV2-W18) or ``"tiny"``."""
    if kind == "w18":
        return hrnetv2_w18(in_channels=in_channels, stem=False)
    if kind == "tiny":
        return hrnet_tiny(in_channels=in_channels, stem=False, width=tiny_width, final_multiscale=True)
    raise ValueError(f"unknown part head backbone {kind!r} (expected 'w18' or 'tiny')")


class PartHead(nn.Module):
    """Zoom-in head: RoI crops of F1 (64x64) and F2 (32x32) -> ``num_keypoints`` box heatmaps.

    Args:
        f1_channels, f2_channels: channels of the shared feature maps F1 and F2.
        num_keypoints: 68 for the face, 21 for a hand.
        backbone: ``"w18"`` or ``"tiny"``.
        fused_channels: width of the fused crop the HRNet starts from (the W18 stem's 64).
        heatmap_size: output heatmap side; must equal the F1 crop side (the HRNet keeps it).
    """

    def __init__(self, f1_channels: int, f2_channels: int, num_keypoints: int, backbone: str = "w18",
                 fused_channels: int = 64, heatmap_size: int = 64, tiny_width: int = 8) -> None:
        super().__init__()
        self.heatmap_size = heatmap_size
        self.fuse = conv_norm_relu(f1_channels + f2_channels, fused_channels, kernel=1)
        self.backbone = make_part_backbone(backbone, fused_channels, tiny_width)
        self.head = ConcatHeatmapHead(self.backbone.out_channels, num_keypoints)

    def forward(self, f1_crops: torch.Tensor, f2_crops: torch.Tensor) -> torch.Tensor:
        """(K, C1, S, S) and (K, C2, S/2, S/2) crops -> (K, num_keypoints, S, S) heatmaps."""
        coarse = F.interpolate(f2_crops, size=f1_crops.shape[-2:], mode="bilinear", align_corners=False)
        fused = self.fuse(torch.cat([f1_crops, coarse], dim=1))
        return self.head(self.backbone(fused))
