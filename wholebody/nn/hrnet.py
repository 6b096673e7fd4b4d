"""HRNet (high-resolution network) in plain torch: stages of parallel branches with fuse layers.

An HRNet keeps a stride-s branch through the whole network and adds a branch at twice the
stride in each new stage (4 stages, up to 4 branches); every module ends with a fuse layer
that sums each branch's resampled copy into every other branch.  Builders:

* ``hrnet_w32()``: the pose HRNet-W32 (widths 32/64/128/256); with ``final_multiscale=False``
  its last module outputs only the highest-resolution branch, as in top-down pose estimation.
* ``hrnetv2_w18()``: HRNetV2-W18 (widths 18/36/72/144), returns all four branches; pair it with
  ``concat_branches`` for the "four-branch concatenated" representation (270 channels).
* ``hrnet_tiny()``: small widths, one block per branch and one module per stage, for tests.

``HRNet.forward`` returns the list of branch feature maps (highest resolution first), like a
``features_only`` backbone; ``out_channels`` and ``strides`` (relative to the input) describe
them.  With ``stem=False`` the network starts directly at stage 1 on a given feature map
(ZoomNet's FeatureNet supplies it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from wholebody.nn.blocks import BLOCKS, conv1x1, conv_norm_relu, make_layer


@dataclass(frozen=True)
class StageSpec:
    """One stage: ``num_modules`` repeated modules over ``len(planes)`` branches."""

    num_modules: int
    block: str  # "basic" or "bottleneck"
    num_blocks: tuple[int, ...]  # blocks per branch
    planes: tuple[int, ...]  # block width per branch (output = planes * block expansion)


def standard_stages(widths: tuple[int, int, int, int], blocks: int = 4, modules: tuple[int, int, int] = (1, 4, 3),
                    stage1_planes: int = 64, stage1_blocks: int = 4) -> tuple[StageSpec, ...]:
    """The usual HRNet layout: a bottleneck stage 1, then basic-block stages with 2, 3, 4 branches."""
    return (
        StageSpec(1, "bottleneck", (stage1_blocks,), (stage1_planes,)),
        StageSpec(modules[0], "basic", (blocks,) * 2, widths[:2]),
        StageSpec(modules[1], "basic", (blocks,) * 3, widths[:3]),
        StageSpec(modules[2], "basic", (blocks,) * 4, widths[:4]),
    )


class FuseLayer(nn.Module):
    """Output branch i = ReLU(sum over input branches j of branch j resampled to i's shape).

    Coarser inputs (j > i): 1x1 conv + norm, then nearest upsampling by 2^(j-i).
    Finer inputs (j < i): a chain of (i - j) stride-2 3x3 convs (ReLU between them, not after).
    """

    def __init__(self, channels: list[int], num_outputs: int) -> None:
        super().__init__()
        self.paths = nn.ModuleList()
        for i in range(num_outputs):
            row = nn.ModuleList()
            for j, in_ch in enumerate(channels):
                if j == i:
                    row.append(nn.Identity())
                elif j > i:
                    row.append(nn.Sequential(conv1x1(in_ch, channels[i]), nn.BatchNorm2d(channels[i])))
                else:
                    steps = [conv_norm_relu(in_ch, in_ch, 3, 2) for _ in range(i - j - 1)]
                    steps.append(conv_norm_relu(in_ch, channels[i], 3, 2, relu=False))
                    row.append(nn.Sequential(*steps))
            self.paths.append(row)

    def forward(self, branches: list[torch.Tensor]) -> list[torch.Tensor]:
        outputs = []
        for i, row in enumerate(self.paths):
            total = branches[i]
            for j, path in enumerate(row):
                if j == i:
                    continue
                y = path(branches[j])
                if j > i:
                    y = F.interpolate(y, size=branches[i].shape[-2:], mode="nearest")
                total = total + y
            outputs.append(F.relu(total))
        return outputs


class HRModule(nn.Module):
    """Parallel residual branches followed by a fuse layer (one HRNet "module")."""

    def __init__(self, in_channels: list[int], spec: StageSpec, multiscale_output: bool) -> None:
        super().__init__()
        block = BLOCKS[spec.block]
        self.branches = nn.ModuleList(
            make_layer(block, in_ch, planes, n) for in_ch, planes, n in zip(in_channels, spec.planes, spec.num_blocks)
        )
        self.out_channels = [p * block.expansion for p in spec.planes]
        num_outputs = len(self.out_channels) if multiscale_output else 1
        self.fuse = FuseLayer(self.out_channels, num_outputs) if len(self.out_channels) > 1 else None
        self.out_channels = self.out_channels[:num_outputs]

    def forward(self, branches: list[torch.Tensor]) -> list[torch.Tensor]:
        branches = [branch(x) for branch, x in zip(self.branches, branches)]
        return branches if self.fuse is None else self.fuse(branches)


class Transition(nn.Module):
    """Adapts the previous stage's branches to the next stage's: 3x3 conv where a width changes,
    and a new half-resolution branch made by stride-2 convs from the coarsest previous branch."""

    def __init__(self, prev_channels: list[int], next_channels: list[int]) -> None:
        super().__init__()
        self.paths = nn.ModuleList()
        for i, out_ch in enumerate(next_channels):
            if i < len(prev_channels):
                same = prev_channels[i] == out_ch
                self.paths.append(nn.Identity() if same else conv_norm_relu(prev_channels[i], out_ch))
            else:
                src = prev_channels[-1]
                steps = [conv_norm_relu(src, src, 3, 2) for _ in range(i - len(prev_channels))]
                steps.append(conv_norm_relu(src, out_ch, 3, 2))
                self.paths.append(nn.Sequential(*steps))

    def forward(self, branches: list[torch.Tensor]) -> list[torch.Tensor]:
        return [path(branches[min(i, len(branches) - 1)]) for i, path in enumerate(self.paths)]


class HRNet(nn.Module):
    """Stem (optional) + four stages; ``forward`` returns the last stage's branch outputs."""

    def __init__(self, stages: tuple[StageSpec, ...], in_channels: int = 3, stem: bool = True,
                 stem_channels: int = 64, final_multiscale: bool = True) -> None:
        super().__init__()
        self.stem = None
        stride = 1
        if stem:  # two stride-2 3x3 convs: the network runs at 1/4 of the input
            self.stem = nn.Sequential(conv_norm_relu(in_channels, stem_channels, 3, 2),
                                      conv_norm_relu(stem_channels, stem_channels, 3, 2))
            in_channels, stride = stem_channels, 4
        self.transitions = nn.ModuleList()
        self.stages = nn.ModuleList()
        channels = [in_channels]
        for s, spec in enumerate(stages):
            planes_out = [p * BLOCKS[spec.block].expansion for p in spec.planes]
            # A module's input widths equal its output widths except in stage 1 (bottleneck expands).
            next_in = planes_out if s > 0 else channels
            self.transitions.append(Transition(channels, next_in) if s > 0 else nn.Identity())
            modules = []
            for m in range(spec.num_modules):
                last = s == len(stages) - 1 and m == spec.num_modules - 1
                module = HRModule(next_in, spec, multiscale_output=final_multiscale or not last)
                modules.append(module)
                next_in = module.out_channels
            self.stages.append(nn.Sequential(*modules))
            channels = next_in
        self.out_channels: list[int] = channels
        self.strides: list[int] = [stride * 2**i for i in range(len(channels))]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.stem is not None:
            x = self.stem(x)
        branches = [x]
        for transition, stage in zip(self.transitions, self.stages):
            branches = transition(branches) if not isinstance(transition, nn.Identity) else branches
            branches = stage(branches)
        return branches


def concat_branches(branches: list[torch.Tensor]) -> torch.Tensor:
    """HRNetV2 representation: every branch bilinearly upsampled to the first's size, concatenated."""
    size = branches[0].shape[-2:]
    ups = [branches[0]] + [F.interpolate(b, size=size, mode="bilinear", align_corners=False) for b in branches[1:]]
    return torch.cat(ups, dim=1)


def hrnet_w32(in_channels: int = 3, stem: bool = True, final_multiscale: bool = False, stage1_blocks: int = 4) -> HRNet:
    """Pose HRNet-W32 (about 28.5 M parameters with the stem, highest branch 32 channels).

    ``stage1_blocks`` < 4 leaves the first bottlenecks to the caller (ZoomNet's FeatureNet has one).
    """
    return HRNet(standard_stages((32, 64, 128, 256), stage1_blocks=stage1_blocks), in_channels, stem,
                 final_multiscale=final_multiscale)


def hrnetv2_w18(in_channels: int = 3, stem: bool = True) -> HRNet:
    """HRNetV2-W18 returning all four branches (18/36/72/144 channels; 270 once concatenated)."""
    return HRNet(standard_stages((18, 36, 72, 144)), in_channels, stem, final_multiscale=True)


def hrnet_tiny(in_channels: int = 3, stem: bool = True, width: int = 8, final_multiscale: bool = True) -> HRNet:
    """A test-size HRNet: widths w/2w/4w/8w, one block per branch, one module per stage."""
    widths = (width, 2 * width, 4 * width, 8 * width)
    stages = standard_stages(widths, blocks=1, modules=(1, 1, 1), stage1_planes=2 * width, stage1_blocks=1)
    return HRNet(stages, in_channels, stem, stem_channels=4 * width, final_multiscale=final_multiscale)
