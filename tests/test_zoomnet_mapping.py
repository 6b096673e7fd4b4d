"""Fast pins for two ZoomNet mappings that only the long overfit test used to catch.

* Left hands: ZoomNet mirrors the left-hand crop so one hand head sees right hands only, and
  must mirror that head's heatmaps back.  With a hand head that keeps the crop's own layout, the
  same RoI must give the same heatmaps on both sides.
* ``predict_crops``: keypoints and part boxes come back in ORIGINAL image pixels through the
  inverse of the crop affine, checked against a hand-written crop -> image formula.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from wholebody.models.zoomnet.topdown import predict_crops
from wholebody.models.zoomnet.network import zoomnet_tiny
from wholebody.schema import PART_SLICES
from wholebody.models.zoomnet.transforms import crop_matrix

torch.set_num_threads(1)


class PixelwiseHandHead(nn.Module):
    """A hand head whose heatmaps are its input features averaged over channels: no learnt
    mirroring, so heatmap column c always describes crop column c."""

    def forward(self, f1_crops: torch.Tensor, f2_crops: torch.Tensor) -> torch.Tensor:
        return f1_crops.mean(dim=1, keepdim=True).repeat(1, 21, 1, 1)


class FixedPeakHandHead(nn.Module):
    """A hand head that always answers one peak at heatmap (row, column) = (3, 5)."""

    def forward(self, f1_crops: torch.Tensor, f2_crops: torch.Tensor) -> torch.Tensor:
        maps = torch.zeros(len(f1_crops), 21, *f1_crops.shape[-2:])
        maps[:, :, 3, 5] = 1.0
        return maps


def _run_hands(head: nn.Module) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = zoomnet_tiny(input_size=(128, 96), width=4).eval()
    model.hand_head = head
    roi = [30.0, 40.0, 62.0, 72.0]
    with torch.no_grad():
        return model(torch.rand(1, 3, 128, 96) * 255, rois=torch.tensor([[roi, roi, roi]]))


def test_left_hand_heatmaps_are_mirrored_back():
    out = _run_hands(PixelwiseHandHead())
    assert not torch.allclose(out["righthand"], out["righthand"].flip(-1))  # the features are not symmetric
    torch.testing.assert_close(out["lefthand"], out["righthand"])


def test_a_peak_of_the_mirrored_left_crop_lands_on_the_mirrored_column():
    out = _run_hands(FixedPeakHandHead())
    size = out["lefthand"].shape[-1]
    right_peak = (out["righthand"][0, 0] == 1).nonzero().tolist()
    left_peak = (out["lefthand"][0, 0] == 1).nonzero().tolist()
    assert right_peak == [[3, 5]] and left_peak == [[3, size - 1 - 5]]


class FixedHeatmapModel(nn.Module):
    """A ZoomNet stand-in that answers fixed heatmaps and RoIs (crop pixels) for every crop."""

    architecture, stride = "zoomnet", 4

    def __init__(self, outputs: dict[str, torch.Tensor], roi_enlarge: float) -> None:
        super().__init__()
        self.device_anchor = nn.Parameter(torch.zeros(1))  # predict_crops reads the device from a parameter
        self.outputs = outputs
        self.config = SimpleNamespace(roi_enlarge=roi_enlarge)

    def forward(self, crops: torch.Tensor, rois: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return {name: value.expand(len(crops), *value.shape[1:]) for name, value in self.outputs.items()}


def test_predict_crops_maps_peaks_and_part_boxes_to_original_pixels():
    center, size = np.array([230.0, 150.0]), np.array([90.0, 120.0])  # crop rectangle in the image (w, h)
    matrix = crop_matrix(center, size, 0.0, (128, 96))

    def to_image(points):  # crop pixels -> image pixels, written out: centre (48, 64), 90/96 and 120/128 px per px
        points = np.asarray(points, dtype=float)
        return center + (points - [48.0, 64.0]) * (size / [96.0, 128.0])

    body = torch.zeros(1, 23, 32, 24)
    body[0, 0, 10, 7] = 1.0  # nose at cell index (x 7, y 10): its centre, crop pixel ((7.5, 10.5) * 4)
    rois = torch.tensor([[[30.0, 10.0, 62.0, 42.0], [10.0, 60.0, 42.0, 92.0], [50.0, 70.0, 82.0, 102.0]]])
    parts = {}
    for name in ("face", "lefthand", "righthand"):
        count = PART_SLICES[name].stop - PART_SLICES[name].start
        parts[name] = torch.zeros(1, count, 32, 32)
        parts[name][0, 0, 8, 16] = 1.0  # first point of the part: cell index (16, 8) of a 32-cell, 32-px RoI
    model = FixedHeatmapModel({"body": body, "rois": rois, **parts}, roi_enlarge=1.25)
    keypoints, part_boxes = predict_crops(model, torch.zeros(1, 3, 128, 96), matrix[None], flip_test=False,
                                          method="argmax")
    assert keypoints.shape == (1, 133, 3)
    np.testing.assert_allclose(keypoints[0, 0, :2], to_image([30.0, 42.0]), atol=1e-6)
    assert keypoints[0, 0, 2] == 1.0
    for index, name in enumerate(("face", "lefthand", "righthand")):
        x1, y1 = rois[0, index, :2].tolist()
        np.testing.assert_allclose(keypoints[0, PART_SLICES[name].start, :2], to_image([x1 + 16.5, y1 + 8.5]),
                                   atol=1e-6, err_msg=name)
        # the part box: the RoI shrunk by the enlargement (32 -> 25.6 px, same centre), in image pixels
        centre = rois[0, index, :2].numpy() + 16.0
        expected = np.concatenate([to_image(centre - 12.8), to_image(centre + 12.8)])
        np.testing.assert_allclose(part_boxes[0, index], expected, atol=1e-6, err_msg=name)
