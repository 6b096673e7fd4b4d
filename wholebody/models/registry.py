"""Architecture names -> model classes and configs, for checkpoints, training and export.

A checkpoint stores ``architecture`` and ``config`` (a plain dict); :func:`build_model`
rebuilds the network from them.  Imports are local so that listing names costs nothing.
"""

from __future__ import annotations

ARCHITECTURES = ("zoomnet", "hrnet133")


def build_model(architecture: str, config: dict | None = None, tiny: bool = False, input_size=None):
    """A fresh model of ``architecture``.

    Args:
        architecture: one of ``ARCHITECTURES``.
        config: a stored config dict (from a checkpoint); wins over ``tiny``/``input_size``.
        tiny: the test-size variant.
        input_size: crop ``(height, width)`` when building from scratch.
    """
    if architecture == "zoomnet":
        from wholebody.models.zoomnet.network import ZoomNet, ZoomNetConfig, zoomnet, zoomnet_tiny

        if config is not None:
            return ZoomNet(ZoomNetConfig.from_dict(config))
        builder = zoomnet_tiny if tiny else zoomnet
    elif architecture == "hrnet133":
        from wholebody.models.zoomnet.hrnet133 import HRNet133, HRNet133Config, hrnet133, hrnet133_tiny

        if config is not None:
            return HRNet133(HRNet133Config.from_dict(config))
        builder = hrnet133_tiny if tiny else hrnet133
    else:
        raise ValueError(f"unknown architecture {architecture!r}; known: {', '.join(ARCHITECTURES)}")
    return builder() if input_size is None else builder(tuple(input_size))
