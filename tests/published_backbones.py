"""Key names and shapes of the published ImageNet checkpoints, written from the published
architectures (not from our modules), so that a mapping bug cannot hide behind shared code.

* ``torchvision_resnet50()``: torchvision's ResNet-50 (``resnet50-*.pth``).
* ``published_hrnet(width)``: HRNet-Image-Classification's HRNet-W32-C / HRNetV2-W18-C (timm's
  ``hrnet_w32`` / ``hrnet_w18`` use the same keys): stem, ``layer1`` (4 bottlenecks), transitions,
  stages 2-4 with 1/4/3 modules of 4 basic blocks per branch, all fuse rows, and the classifier
  (``incre_modules``, ``downsamp_modules``, ``final_layer``, ``classifier``).

Each returns ``{key: shape}``; ``random_state`` fills it with seeded random tensors.
"""

from __future__ import annotations

import torch

Shapes = dict[str, tuple[int, ...]]


def bn(prefix: str, channels: int) -> Shapes:
    shapes = {f"{prefix}.{name}": (channels,) for name in ("weight", "bias", "running_mean", "running_var")}
    shapes[f"{prefix}.num_batches_tracked"] = ()
    return shapes


def conv(prefix: str, out_ch: int, in_ch: int, kernel: int, bias: bool = False) -> Shapes:
    shapes = {f"{prefix}.weight": (out_ch, in_ch, kernel, kernel)}
    if bias:
        shapes[f"{prefix}.bias"] = (out_ch,)
    return shapes


def bottleneck(prefix: str, in_ch: int, planes: int, stride: int = 1) -> Shapes:
    out = 4 * planes
    shapes = {**conv(f"{prefix}.conv1", planes, in_ch, 1), **bn(f"{prefix}.bn1", planes),
              **conv(f"{prefix}.conv2", planes, planes, 3), **bn(f"{prefix}.bn2", planes),
              **conv(f"{prefix}.conv3", out, planes, 1), **bn(f"{prefix}.bn3", out)}
    if in_ch != out or stride != 1:
        shapes |= {**conv(f"{prefix}.downsample.0", out, in_ch, 1), **bn(f"{prefix}.downsample.1", out)}
    return shapes


def basic(prefix: str, channels: int) -> Shapes:
    return {**conv(f"{prefix}.conv1", channels, channels, 3), **bn(f"{prefix}.bn1", channels),
            **conv(f"{prefix}.conv2", channels, channels, 3), **bn(f"{prefix}.bn2", channels)}


def torchvision_resnet50() -> Shapes:
    shapes = {**conv("conv1", 64, 3, 7), **bn("bn1", 64)}
    in_ch = 64
    for stage, blocks in enumerate((3, 4, 6, 3)):
        planes = 64 * 2**stage
        for b in range(blocks):
            shapes |= bottleneck(f"layer{stage + 1}.{b}", in_ch, planes, 2 if b == 0 and stage > 0 else 1)
            in_ch = 4 * planes
    return shapes | {"fc.weight": (1000, 2048), "fc.bias": (1000,)}


def published_hrnet(width: int, classifier: bool = True) -> Shapes:
    shapes = {**conv("conv1", 64, 3, 3), **bn("bn1", 64), **conv("conv2", 64, 64, 3), **bn("bn2", 64)}
    in_ch = 64
    for b in range(4):
        shapes |= bottleneck(f"layer1.{b}", in_ch, 64)
        in_ch = 256
    widths, modules = [width * 2**i for i in range(4)], {2: 1, 3: 4, 4: 3}
    previous = [256]
    for stage in (2, 3, 4):
        current = widths[:stage]
        for i, ch in enumerate(current):
            name = f"transition{stage - 1}.{i}"
            if i < len(previous):
                if previous[i] != ch:
                    shapes |= {**conv(f"{name}.0", ch, previous[i], 3), **bn(f"{name}.1", ch)}
            else:
                for j in range(i + 1 - len(previous)):
                    out = ch if j == i - len(previous) else previous[-1]
                    shapes |= {**conv(f"{name}.{j}.0", out, previous[-1], 3), **bn(f"{name}.{j}.1", out)}
        for m in range(modules[stage]):
            prefix = f"stage{stage}.{m}"
            for b, ch in enumerate(current):
                for k in range(4):
                    shapes |= basic(f"{prefix}.branches.{b}.{k}", ch)
            for i, ch_i in enumerate(current):
                for j, ch_j in enumerate(current):
                    if j > i:
                        shapes |= {**conv(f"{prefix}.fuse_layers.{i}.{j}.0", ch_i, ch_j, 1),
                                   **bn(f"{prefix}.fuse_layers.{i}.{j}.1", ch_i)}
                    for k in range(i - j):
                        out = ch_i if k == i - j - 1 else ch_j
                        shapes |= {**conv(f"{prefix}.fuse_layers.{i}.{j}.{k}.0", out, ch_j, 3),
                                   **bn(f"{prefix}.fuse_layers.{i}.{j}.{k}.1", out)}
        previous = current
    if classifier:
        head = (32, 64, 128, 256)
        for i, ch in enumerate(widths):
            shapes |= bottleneck(f"incre_modules.{i}.0", ch, head[i])
        for i in range(3):
            shapes |= {**conv(f"downsamp_modules.{i}.0", 4 * head[i + 1], 4 * head[i], 3, bias=True),
                       **bn(f"downsamp_modules.{i}.1", 4 * head[i + 1])}
        shapes |= {**conv("final_layer.0", 2048, 1024, 1, bias=True), **bn("final_layer.1", 2048),
                   "classifier.weight": (1000, 2048), "classifier.bias": (1000,)}
    return shapes


def random_state(shapes: Shapes, seed: int) -> dict[str, torch.Tensor]:
    """Distinct random values per tensor; positive variances so BatchNorm stays finite."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(1000)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=generator) + 0.5
        else:
            state[key] = torch.randn(shape, generator=generator) * 0.05
    return state
