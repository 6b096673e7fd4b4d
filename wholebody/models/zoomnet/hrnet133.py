"""The one-stage baseline of the COCO-WholeBody paper's Table 2: HRNet-W32 -> 133 heatmaps.

The pose HRNet-W32 (stem + four stages, highest-resolution output) and a 1x1 conv predict all
133 COCO-WholeBody heatmaps at 1/4 of the crop (96x72 for the default 384x288 crop).  Input:
RGB floats 0..255, normalised inside the model; coordinates as in ``wholebody.models.zoomnet.network``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from wholebody.models.config import StoredConfig
from wholebody.models.zoomnet.heads import make_heatmap_head
from wholebody.models.zoomnet.network import IMAGENET_MEAN, IMAGENET_STD
from wholebody.nn.hrnet import hrnet_tiny, hrnet_w32

NUM_KEYPOINTS = 133


@dataclass(frozen=True)
class HRNet133Config(StoredConfig):
    """Everything needed to rebuild the baseline (stored in checkpoints)."""

    input_size: tuple[int, int] = (384, 288)  # crop (height, width)
    backbone: str = "w32"  # "w32" or "tiny"
    tiny_width: int = 8
    head: str = "simple"  # "simple" (1x1 conv on the 32-ch branch, the paper's) or "concat" (HRNetV2 head)


class HRNet133(nn.Module):
    """``forward(images)`` -> ``{"wholebody": (B, 133, H/4, W/4)}`` heatmaps."""

    architecture = "hrnet133"
    stride = 4

    def __init__(self, config: HRNet133Config = HRNet133Config()) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        multiscale = config.head == "concat"
        if config.backbone == "w32":
            self.backbone = hrnet_w32(final_multiscale=multiscale)
        elif config.backbone == "tiny":
            self.backbone = hrnet_tiny(width=config.tiny_width, final_multiscale=multiscale)
        else:
            raise ValueError(f"unknown HRNet133 backbone {config.backbone!r} (expected 'w32' or 'tiny')")
        self.head = make_heatmap_head(config.head, self.backbone.out_channels, NUM_KEYPOINTS)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """images: (B, 3, H, W) RGB 0..255."""
        return {"wholebody": self.head(self.backbone((images - self.mean) / self.std))}


def hrnet133(input_size: tuple[int, int] = (384, 288)) -> HRNet133:
    return HRNet133(HRNet133Config(input_size=input_size))


def hrnet133_tiny(input_size: tuple[int, int] = (256, 192), width: int = 8) -> HRNet133:
    """Test-size baseline (tiny HRNet, HRNetV2 head: 133 maps need more than 8 channels)."""
    return HRNet133(HRNet133Config(input_size=input_size, backbone="tiny", tiny_width=width, head="concat"))
