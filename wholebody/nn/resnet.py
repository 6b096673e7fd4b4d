"""ResNet-50 in plain torch, split so that a detector can run it up to ``layer3`` and ``layer4`` apart.

Layout (the usual "v1.5": the stride sits on the 3x3 conv of a bottleneck): stem = 7x7/2 conv +
norm + ReLU + 3x3/2 max-pool (stride 4), then ``layer1`` .. ``layer4`` with 3, 4, 6, 3
bottlenecks, widths 64/128/256/512 (x4 output channels) and strides 4/8/16/32.  State-dict
keys follow the common naming (``conv1``, ``bn1``, ``layer1.0.conv1`` ...), so converted
ImageNet weights load by name.

DOPE uses ``forward_to_layer3`` (C4: stride 16, 1024 channels) as its only feature map and runs
``layer4`` on each 7x7 RoIAlign crop.  ``frozen_bn=True`` swaps every batch norm for
``FrozenBatchNorm2d``; ``trainable_layers`` freezes the parameters of the earliest stages.
"""

from __future__ import annotations

import torch
from torch import nn

from wholebody.nn.blocks import Bottleneck, FrozenBatchNorm2d, make_layer

STAGE_NAMES = ("layer1", "layer2", "layer3", "layer4")


class ResNet(nn.Module):
    """Bottleneck ResNet with stage access.

    Args:
        layers: blocks per stage, e.g. (3, 4, 6, 3) for ResNet-50.
        width: planes of the first stage (64 for ResNet-50); later stages double it.
        frozen_bn: use ``FrozenBatchNorm2d`` (fixed statistics) everywhere.
        trainable_layers: how many of the last stages (of stem + 4 stages, counted from
            ``layer4`` backwards) keep trainable parameters; 5 = all, 0 = none.
    """

    def __init__(self, layers: tuple[int, int, int, int] = (3, 4, 6, 3), width: int = 64, frozen_bn: bool = False,
                 trainable_layers: int = 5) -> None:
        super().__init__()
        norm_layer = FrozenBatchNorm2d if frozen_bn else nn.BatchNorm2d
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_channels = width
        self.out_channels: dict[str, int] = {}
        for i, (name, blocks) in enumerate(zip(STAGE_NAMES, layers)):
            planes = width * 2**i
            setattr(self, name, make_layer(Bottleneck, in_channels, planes, blocks, 1 if i == 0 else 2, norm_layer))
            in_channels = planes * Bottleneck.expansion
            self.out_channels[name] = in_channels
        self.strides = {"layer1": 4, "layer2": 8, "layer3": 16, "layer4": 32}
        self._freeze(trainable_layers)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def _freeze(self, trainable_layers: int) -> None:
        if not 0 <= trainable_layers <= 5:
            raise ValueError(f"trainable_layers must be in 0..5, got {trainable_layers}")
        groups = [["conv1", "bn1"], ["layer1"], ["layer2"], ["layer3"], ["layer4"]]
        for group in groups[: 5 - trainable_layers]:
            for name in group:
                for param in getattr(self, name).parameters():
                    param.requires_grad_(False)

    def stem(self, images: torch.Tensor) -> torch.Tensor:
        return self.maxpool(self.relu(self.bn1(self.conv1(images))))

    def forward_to_layer3(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) normalised images -> C4 features (N, 4*4*width, H/16, W/16)."""
        return self.layer3(self.layer2(self.layer1(self.stem(images))))

    def forward_features(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """All four stage outputs, keyed by stage name (a ``features_only`` view)."""
        out = {}
        x = self.stem(images)
        for name in STAGE_NAMES:
            x = getattr(self, name)(x)
            out[name] = x
        return out

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The ``layer4`` output (stride 32)."""
        return self.layer4(self.forward_to_layer3(images))


def resnet50(frozen_bn: bool = False, trainable_layers: int = 5) -> ResNet:
    """ResNet-50 (about 23.5 M parameters without the classifier)."""
    return ResNet((3, 4, 6, 3), 64, frozen_bn, trainable_layers)


def resnet_tiny(frozen_bn: bool = False, width: int = 8) -> ResNet:
    """Test-size ResNet: one bottleneck per stage, ``width`` planes in the first stage."""
    return ResNet((1, 1, 1, 1), width, frozen_bn)
