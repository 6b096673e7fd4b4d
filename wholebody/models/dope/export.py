"""ONNX export of DOPE's network part, as two graphs around the (Python) proposal selection.

Proposal selection (top-n, NMS) and pose decoding are data-dependent loops that stay in
Python; the convolutional work is exported:

* ``<stem>.rpn.onnx``: ``images`` (1, 3, H, W) normalised, padded input (H, W multiples of 32,
  dynamic) -> ``features`` (1, C, H/16, W/16), ``objectness`` (1, A) and ``deltas`` (1, A, 4)
  in the anchor order of ``nn.anchors``;
* ``<stem>.heads.onnx``: ``features`` and ``boxes`` (R, 4) x1y1x2y2 input pixels (R dynamic) ->
  for each part ``<part>_logits`` (R, K + 1) and ``<part>_deltas`` (R, K, 5J), with RoIAlign
  (``grid_sample``) and ``layer4`` inside the graph.

A run then is: transform (``models.dope.transform``) -> rpn graph -> ``RegionProposalNetwork``'s
decoding and ``select_proposals`` -> heads graph -> ``dope_heads.decode_poses``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

from wholebody.models.dope.network import DOPE
from wholebody.models.dope.layout import PART_NAMES


class _RpnGraph(nn.Module):
    def __init__(self, model: DOPE) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        features = self.model.feature_map(images)
        objectness, deltas = self.model.rpn.head(features)
        return features, objectness, deltas


class _HeadsGraph(nn.Module):
    def __init__(self, model: DOPE) -> None:
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor, boxes: torch.Tensor) -> tuple[torch.Tensor, ...]:
        pooled = self.model.roi_features(features, [boxes])
        outputs = self.model.predict_parts(pooled)
        return tuple(t for part in PART_NAMES for t in outputs[part])


def head_output_names() -> list[str]:
    return [f"{part}_{kind}" for part in PART_NAMES for kind in ("logits", "deltas")]


def export_dope_onnx(model: DOPE, path: str | os.PathLike, opset: int = 17) -> tuple[Path, Path]:
    """Write the two graphs next to ``path`` (``x.onnx`` -> ``x.rpn.onnx``, ``x.heads.onnx``)."""
    model = model.eval().float()
    base = Path(path)
    stem = base.with_suffix("") if base.suffix == ".onnx" else base
    rpn_path, heads_path = Path(f"{stem}.rpn.onnx"), Path(f"{stem}.heads.onnx")
    example = torch.rand(1, 3, 128, 160)
    with torch.no_grad():
        features = model.feature_map(example)
    boxes = torch.tensor([[8.0, 8.0, 90.0, 120.0], [40.0, 20.0, 70.0, 60.0], [0.0, 0.0, 160.0, 128.0]])
    with warnings.catch_warnings():  # tracer warnings concern shapes that are dynamic axes here
        warnings.simplefilter("ignore")
        torch.onnx.export(_RpnGraph(model).eval(), (example,), str(rpn_path), dynamo=False, opset_version=opset,
                          input_names=["images"], output_names=["features", "objectness", "deltas"],
                          dynamic_axes={"images": {2: "height", 3: "width"}, "features": {2: "fh", 3: "fw"},
                                        "objectness": {1: "anchors"}, "deltas": {1: "anchors"}})
        names = head_output_names()
        torch.onnx.export(_HeadsGraph(model).eval(), (features, boxes), str(heads_path), dynamo=False,
                          opset_version=opset, input_names=["features", "boxes"], output_names=names,
                          dynamic_axes={"features": {2: "fh", 3: "fw"}, "boxes": {0: "rois"}, **{n: {0: "rois"} for n in names}})
    return rpn_path, heads_path


def onnx_parity(model: DOPE, rpn_path: str | os.PathLike, heads_path: str | os.PathLike,
                size: tuple[int, int] = (192, 256), num_boxes: int = 7, seed: int = 0) -> float:
    """Largest absolute difference between ONNX Runtime and PyTorch on a random input and boxes."""
    import numpy as np
    import onnxruntime

    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(1, 3, *size, generator=generator)
    corner = torch.rand(num_boxes, 2, generator=generator) * torch.tensor([size[1] * 0.6, size[0] * 0.6])
    boxes = torch.cat([corner, corner + 8 + torch.rand(num_boxes, 2, generator=generator) * 80], dim=1)
    options = {"providers": ["CPUExecutionProvider"]}
    rpn = onnxruntime.InferenceSession(str(rpn_path), **options)
    heads = onnxruntime.InferenceSession(str(heads_path), **options)
    got_rpn = rpn.run(None, {"images": images.numpy()})
    got_heads = heads.run(None, {"features": got_rpn[0], "boxes": boxes.numpy()})
    model = model.eval().float()
    with torch.no_grad():
        want_rpn = _RpnGraph(model)(images)
        want_heads = _HeadsGraph(model)(want_rpn[0], boxes)
    return max(float(np.abs(g - w.numpy()).max()) for g, w in zip(got_rpn + got_heads, list(want_rpn) + list(want_heads)))
