"""Residual blocks shared by HRNet (ZoomNet) and ResNet-50 (DOPE), in plain torch.

``BasicBlock`` (two 3x3 convs, expansion 1) and ``Bottleneck`` (1x1 -> 3x3 -> 1x1, expansion 4,
stride on the 3x3 conv as in the usual "ResNet v1.5" layout), plus ``FrozenBatchNorm2d``: a
batch norm whose statistics and affine parameters are buffers, so fine-tuning a detector with
small batches never updates them.  Every block takes a ``norm_layer`` factory so the same code
serves trainable and frozen normalisation.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

NormLayer = Callable[[int], nn.Module]


class FrozenBatchNorm2d(nn.Module):
    """Batch norm with fixed statistics and affine parameters (all buffers, no gradients).

    Same state-dict keys as ``nn.BatchNorm2d`` (``weight``, ``bias``, ``running_mean``,
    ``running_var``), so checkpoints of either kind load into the other.  Computes in float32 and
    casts back, so half-precision inputs do not lose the normalisation's precision.
    """

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: ANN001 (torch hook signature)
        # A trainable BatchNorm2d checkpoint also carries num_batches_tracked: not needed here.
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        out = x.float() * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1)
        return out.to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (a norm layer always follows)."""
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


def conv_norm_relu(in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1,
                   norm_layer: NormLayer = nn.BatchNorm2d, relu: bool = True) -> nn.Sequential:
    """Conv (padding keeps the size at stride 1) + norm (+ ReLU)."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, bias=False),
        norm_layer(out_channels),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def projection(in_channels: int, out_channels: int, stride: int, norm_layer: NormLayer) -> nn.Module | None:
    """The 1x1 conv + norm shortcut a block needs when its shape changes, else None."""
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.Sequential(conv1x1(in_channels, out_channels, stride), norm_layer(out_channels))


class BasicBlock(nn.Module):
    """Two 3x3 conv + norm layers with an identity (or projection) shortcut; ``out = planes``."""

    expansion = 1

    def __init__(self, in_channels: int, planes: int, stride: int = 1, norm_layer: NormLayer = nn.BatchNorm2d) -> None:
        super().__init__()
        self.conv1 = conv3x3(in_channels, planes, stride)
        self.bn1 = norm_layer(planes)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = projection(in_channels, planes, stride, norm_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        return F.relu(out + shortcut, inplace=True)


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (carries the stride) -> 1x1 expand to ``4 * planes``, plus shortcut."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1, norm_layer: NormLayer = nn.BatchNorm2d) -> None:
        super().__init__()
        out_channels = planes * self.expansion
        self.conv1 = conv1x1(in_channels, planes)
        self.bn1 = norm_layer(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = norm_layer(planes)
        self.conv3 = conv1x1(planes, out_channels)
        self.bn3 = norm_layer(out_channels)
        self.downsample = projection(in_channels, out_channels, stride, norm_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = F.relu(self.bn2(self.conv2(out)), inplace=True)
        out = self.bn3(self.conv3(out))
        return F.relu(out + shortcut, inplace=True)


BLOCKS: dict[str, type[nn.Module]] = {"basic": BasicBlock, "bottleneck": Bottleneck}


def make_layer(block: type[nn.Module], in_channels: int, planes: int, num_blocks: int, stride: int = 1,
               norm_layer: NormLayer = nn.BatchNorm2d) -> nn.Sequential:
    """``num_blocks`` blocks; only the first one strides and changes the channel count."""
    layers = [block(in_channels, planes, stride, norm_layer)]
    out_channels = planes * block.expansion
    layers += [block(out_channels, planes, 1, norm_layer) for _ in range(num_blocks - 1)]
    return nn.Sequential(*layers)
