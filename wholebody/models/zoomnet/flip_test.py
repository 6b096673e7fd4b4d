"""Heatmaps of ZoomNet / HRNet-133 with the flip test in ONE batched pass, ready for CUDA graphs.

The flip test averages the heatmaps of each crop with those of its mirror (flipped back and
relabelled, ``decode.flip_back``).  Batch-1 inference on a GPU is bound by kernel launches, so
running the network twice (plain, then mirrored) doubled its cost; here the plain and mirrored
crops go through the network as one batch of 2B:

* HRNet-133: one forward on ``cat([crops, mirrored])``;
* ZoomNet: one body pass on both halves (``ZoomNet.forward_body``), the part RoIs decoded from
  the plain half only and mirrored for the mirrored half (``decode.mirror_rois``: the mirrored
  crop's heads must look at the same places, mirrored, for their heatmaps to align), then one
  part pass on both halves (``ZoomNet.forward_parts``).

``HeatmapPredictor`` is an ``nn.Module`` so that ``torch.compile`` can wrap the whole prediction
(``mode="reduce-overhead"``: one CUDA graph).  For that, nothing in its forward syncs with the host
or brings a host tensor into the graph: the flip permutations are buffers on the model's device
(``tests/test_flip_test.py`` checks this on the CPU: one graph, no input from outside the module).
"""

from __future__ import annotations

import torch
from torch import nn

from wholebody.models.zoomnet.decode import FLIP_133, FLIP_BODY_FOOT, FLIP_FACE, mirror_rois
from wholebody.nn.speed import channels_last_input


class HeatmapPredictor(nn.Module):
    """``predictor(crops)`` -> the model's heatmap dict, flip-test averaged if ``flip_test``.

    crops: (B, 3, H, W) RGB 0..255 of the model's input size.  The dict has the keys of the
    model's own output (ZoomNet: ``rois`` and ``box_scores`` are the plain crops' ones, crop
    pixels).  ``channels_last``: the crops are made NHWC first (for a ``to_channels_last`` model).
    Attribute reads ``architecture``, ``stride``, ``config`` answer the wrapped model's.
    """

    def __init__(self, model: nn.Module, flip_test: bool = True, channels_last: bool = False) -> None:
        super().__init__()
        self.model, self.flip_test, self.channels_last = model, flip_test, channels_last
        self.architecture, self.stride = model.architecture, model.stride
        device = next(model.parameters()).device
        self.register_buffer("flip_133", FLIP_133.to(device, copy=True), persistent=False)
        self.register_buffer("flip_body_foot", FLIP_BODY_FOOT.to(device, copy=True), persistent=False)
        self.register_buffer("flip_face", FLIP_FACE.to(device, copy=True), persistent=False)

    @property
    def config(self):
        return self.model.config

    def forward(self, crops: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.channels_last:
            crops = channels_last_input(crops)
        if not self.flip_test:
            return self.model(crops)
        both = torch.cat([crops, crops.flip(-1)], dim=0)
        if self.architecture == "hrnet133":
            return self._hrnet133(both, crops.shape[0])
        return self._zoomnet(both, crops.shape[0], crops.shape[-1])

    def _hrnet133(self, both: torch.Tensor, batch: int) -> dict[str, torch.Tensor]:
        maps = self.model(both)["wholebody"]
        return {"wholebody": average_with_mirror(maps[:batch], maps[batch:], self.flip_133)}

    def _zoomnet(self, both: torch.Tensor, batch: int, width: int) -> dict[str, torch.Tensor]:
        f1, f2, body, box_maps = self.model.forward_body(both)
        rois, box_scores = self.model.decode_rois(box_maps[:batch])
        face, left, right = self.model.forward_parts(f1, f2, torch.cat([rois, mirror_rois(rois, width)], dim=0))
        return {
            "body": average_with_mirror(body[:batch], body[batch:], self.flip_body_foot),
            "boxes": box_maps[:batch],
            "face": average_with_mirror(face[:batch], face[batch:], self.flip_face),
            # the mirrored crop's right hand is the plain crop's left hand, and the other way round
            "lefthand": average_with_mirror(left[:batch], right[batch:], None),
            "righthand": average_with_mirror(right[:batch], left[batch:], None),
            "rois": rois,
            "box_scores": box_scores,
        }


def average_with_mirror(plain: torch.Tensor, mirrored: torch.Tensor, permutation: torch.Tensor | None) -> torch.Tensor:
    """Mean of the plain heatmaps and the mirrored crop's ones flipped back (x) and relabelled
    (``permutation``: channel index tensor on the heatmaps' device, None for no relabelling)."""
    flipped = mirrored.flip(-1)
    if permutation is not None:
        flipped = flipped.index_select(1, permutation)
    return (plain + flipped) / 2
