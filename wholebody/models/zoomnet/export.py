"""ONNX export of ZoomNet / HRNet-133 with a dynamic batch (number of person crops).

Graph input ``images``: (N, 3, H, W) float RGB 0..255 crops of the model's ``input_size``.
Outputs: HRNet-133 ``wholebody`` heatmaps; ZoomNet ``body``, ``boxes``, ``face``, ``lefthand``,
``righthand`` heatmaps and ``rois`` (the part RoIs decoded inside the graph, crop pixels), i.e.
everything ``wholebody.models.zoomnet.decode.heatmaps_to_keypoints`` needs.  The TorchScript-based
exporter is used (the dynamo exporter needs ``onnxscript``, which is not a dependency).
"""

from __future__ import annotations

import os
import warnings

import torch

OUTPUT_NAMES = {
    "zoomnet": ("body", "boxes", "face", "lefthand", "righthand", "rois"),
    "hrnet133": ("wholebody",),
}


class _Outputs(torch.nn.Module):
    """Turns the model's dict into a tuple in ``OUTPUT_NAMES`` order (ONNX outputs are positional)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        self.names = OUTPUT_NAMES[model.architecture]

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(images)
        return tuple(out[name] for name in self.names)


def export_onnx(model: torch.nn.Module, path: str | os.PathLike, opset: int = 17, batch: int = 2) -> list[str]:
    """Write ``model`` (eval mode) to ``path``; returns the output names."""
    # The exporter restores the wrapper's train/eval mode afterwards, recursively: a wrapper left in
    # its default training mode would switch the caller's model to training mode.
    wrapper = _Outputs(model.eval()).eval()
    height, width = model.config.input_size
    example = torch.rand(batch, 3, height, width) * 255
    names = list(wrapper.names)
    with warnings.catch_warnings():  # the tracer's warnings concern shape checks that are static here
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, (example,), str(path), dynamo=False, opset_version=opset,
                          input_names=["images"], output_names=names,
                          dynamic_axes={name: {0: "batch"} for name in ["images", *names]})
    return names
