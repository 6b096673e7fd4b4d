"""Speed options for the convolutional networks: fused conv + BN, channels-last, torch.compile.

* ``fuse_conv_bn(model)``: folds every batch norm that directly follows a convolution (inside an
  ``nn.Sequential`` or a residual block's ``convN``/``bnN`` pair) into that convolution, using
  torch's ``fuse_conv_bn_eval``.  Inference only: the fused network equals the eval-mode one to
  float rounding, and has no batch statistics left to train.
* ``to_channels_last(model)``: NHWC weights; inputs follow with ``images.contiguous(
  memory_format=torch.channels_last)``.  cuDNN's tensor-core kernels prefer NHWC, so on GPUs this
  avoids layout transposes around each bf16 convolution.
* ``compile_model(model, mode)``: ``torch.compile``; mode ``"reduce-overhead"`` records CUDA graphs
  (one replay per forward instead of thousands of kernel launches, for small-batch inference)
  and is refused off CUDA, where there are no CUDA graphs.

bf16: ``torch.autocast(device, dtype=torch.bfloat16)`` already runs every convolution of these
networks in bf16 (``tests/test_speed_options.py`` checks each convolution's output dtype); the
RoIAlign sampling of ZoomNet/DOPE stays fp32 on purpose (``nn.roi_align``).
"""

from __future__ import annotations

import logging

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from wholebody.nn.blocks import FrozenBatchNorm2d

log = logging.getLogger(__name__)

NORMS = (nn.BatchNorm2d, FrozenBatchNorm2d)
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")


def _fused(conv: nn.Conv2d, norm: nn.Module) -> nn.Conv2d:
    return fuse_conv_bn_eval(conv.eval(), norm.eval())


def fuse_conv_bn(model: nn.Module) -> nn.Module:
    """Fold each conv -> batch-norm pair of ``model`` into the conv, in place; returns ``model`` in
    eval mode.  Norms that follow something else (or a grouped/transposed conv) stay as they are."""
    model.eval()
    fused = 0
    for module in list(model.modules()):
        if isinstance(module, nn.Sequential):
            names = list(module._modules)
            for first, second in zip(names, names[1:]):
                conv, norm = module._modules[first], module._modules[second]
                if type(conv) is nn.Conv2d and isinstance(norm, NORMS):
                    module._modules[first], module._modules[second] = _fused(conv, norm), nn.Identity()
                    fused += 1
        for index in range(1, 4):  # residual blocks: conv1/bn1 ... conv3/bn3 (nn.blocks)
            conv, norm = getattr(module, f"conv{index}", None), getattr(module, f"bn{index}", None)
            if type(conv) is nn.Conv2d and isinstance(norm, NORMS):
                setattr(module, f"conv{index}", _fused(conv, norm))
                setattr(module, f"bn{index}", nn.Identity())
                fused += 1
    log.debug("fused %d conv + batch-norm pairs", fused)
    return model


def to_channels_last(model: nn.Module) -> nn.Module:
    """``model`` with NHWC (channels-last) parameters, in place."""
    return model.to(memory_format=torch.channels_last)


def channels_last_input(images: torch.Tensor) -> torch.Tensor:
    return images.contiguous(memory_format=torch.channels_last) if images.ndim == 4 else images


def compile_model(model: nn.Module, mode: str = "default", backend: str = "inductor") -> nn.Module:
    """``torch.compile(model, mode=...)``; ``"reduce-overhead"`` (CUDA graphs) needs a CUDA model.

    ``dynamic=False``: crops have a fixed size, so one static graph per batch size is best.
    """
    if mode not in COMPILE_MODES:
        raise ValueError(f"unknown compile mode {mode!r}; choose one of {', '.join(COMPILE_MODES)}")
    device = next(model.parameters()).device
    if mode == "reduce-overhead" and device.type != "cuda":
        raise ValueError(f"compile mode 'reduce-overhead' records CUDA graphs: it needs a CUDA device, "
                         f"the model is on {device}")
    return torch.compile(model, mode=mode, backend=backend, dynamic=False)


def set_cudnn_benchmark(device: torch.device, enabled: bool = True) -> bool:
    """Turn cuDNN autotuning on (or off) for a CUDA ``device``; returns whether it is on now.

    Global to the process (``torch.backends.cudnn.benchmark``): every later convolution of every
    network is tuned once per new input shape.  Right for fixed-size crops, wrong for inputs whose
    shapes change at every call (each new shape pays a tuning run).  No effect off CUDA.
    """
    if device.type != "cuda":
        return False
    if torch.backends.cudnn.benchmark != enabled:
        log.info("cuDNN autotuning %s for the whole process", "on" if enabled else "off")
    torch.backends.cudnn.benchmark = enabled
    return enabled
