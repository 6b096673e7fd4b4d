"""RoIAlign in plain torch on ``grid_sample``, with torchvision's semantics.

For each box and each of the ``output_size`` bins, the bin is sampled on a regular
``sampling_ratio x sampling_ratio`` grid of bilinear samples that are averaged (torchvision's
``roi_align``; ``sampling_ratio <= 0`` uses ceil(box size / output size) samples per bin, per
box).  Coordinates:

* boxes are ``(x1, y1, x2, y2)`` in the frame the features were computed from; ``spatial_scale``
  maps them to feature cells (e.g. 1/4 for a stride-4 map);
* ``aligned=True`` shifts the box by -0.5 cell so that a box edge at pixel-corner coordinate x
  lands on the sample at continuous position x (pixel centres at i + 0.5); ``aligned=False`` is
  the legacy Detectron behaviour (no shift, box size at least 1 cell);
* a sample farther than one cell outside the map is 0; one within a cell of the border reads
  the border value (torchvision clamps, here ``padding_mode="border"`` plus a mask).

Gradients flow to the features (``grid_sample``'s backward); boxes are treated as constants, as
in torchvision.  With a fixed ``sampling_ratio`` everything is static tensor algebra, so the op
exports to ONNX (GridSample, opset >= 16) with a variable number of boxes.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _pair(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _sample_positions(start: torch.Tensor, length: torch.Tensor, bins: int, grid: int,
                      per_box_grid: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample coordinates along one axis and their validity for the per-box adaptive grid.

    start, length: (N, R) box start and size in feature cells.  Returns (N, R, bins * grid)
    positions (cell-index units, pixel centres at integers) and a (N, R, bins * grid) bool mask
    that is False for samples beyond a box's own adaptive grid count.
    """
    steps = torch.arange(grid, dtype=start.dtype, device=start.device)
    bin_index = torch.arange(bins, dtype=start.dtype, device=start.device)
    count = torch.full_like(start, float(grid)) if per_box_grid is None else per_box_grid.to(start.dtype)
    bin_size = length / bins
    # position = start + b * bin + (g + 0.5) * bin / count    -> shape (N, R, bins, grid)
    pos = (start[..., None, None] + bin_index[:, None] * bin_size[..., None, None]
           + (steps + 0.5) * (bin_size / count.clamp(min=1))[..., None, None])
    used = steps < count[..., None, None]
    shape = start.shape + (bins * grid,)
    return pos.reshape(shape), used.expand(start.shape + (bins, grid)).reshape(shape)


def roi_align_per_image(features: torch.Tensor, boxes: torch.Tensor, output_size: int | tuple[int, int],
                        spatial_scale: float = 1.0, sampling_ratio: int = 2, aligned: bool = True) -> torch.Tensor:
    """RoIAlign of ``R`` boxes per image.

    Args:
        features: (N, C, H, W).
        boxes: (N, R, 4) ``x1, y1, x2, y2`` in input coordinates (``spatial_scale`` maps to cells).
        output_size: bins ``(out_h, out_w)`` or one int.
    Returns:
        (N, R, C, out_h, out_w).
    """
    # Always float32, also under bf16/fp16 autocast: half-precision sample coordinates would be
    # off by up to half a cell on large maps (as DOPE does, RoIAlign runs in fp32 and casts back).
    work = torch.promote_types(features.dtype, torch.float32)  # float32, or float64 if given
    with torch.autocast(features.device.type, enabled=False):
        crops = _roi_align_fp32(features.to(work), boxes.detach().to(work), output_size, spatial_scale,
                                sampling_ratio, aligned)
    return crops.to(features.dtype)


def _roi_align_fp32(features: torch.Tensor, boxes: torch.Tensor, output_size: int | tuple[int, int],
                    spatial_scale: float, sampling_ratio: int, aligned: bool) -> torch.Tensor:
    out_h, out_w = _pair(output_size)
    n, c, height, width = features.shape
    offset = 0.5 if aligned else 0.0
    x1 = boxes[..., 0] * spatial_scale - offset
    y1 = boxes[..., 1] * spatial_scale - offset
    box_w = boxes[..., 2] * spatial_scale - offset - x1
    box_h = boxes[..., 3] * spatial_scale - offset - y1
    if not aligned:  # legacy behaviour: force boxes to be at least one cell
        box_w, box_h = box_w.clamp(min=1.0), box_h.clamp(min=1.0)
    if sampling_ratio > 0:
        grid_h = grid_w = sampling_ratio
        per_box_h = per_box_w = None
    else:  # adaptive: ceil(box / bins) samples per bin, per box; pad to the largest, mask the rest
        # (a degenerate box can get 0 samples: torchvision then outputs 0, and so does this)
        per_box_h = torch.ceil(box_h / out_h).clamp(min=0)
        per_box_w = torch.ceil(box_w / out_w).clamp(min=0)
        grid_h = max(1, int(per_box_h.max().item())) if per_box_h.numel() else 1
        grid_w = max(1, int(per_box_w.max().item())) if per_box_w.numel() else 1
    ys, used_y = _sample_positions(y1, box_h, out_h, grid_h, per_box_h)  # (N, R, out_h*grid_h)
    xs, used_x = _sample_positions(x1, box_w, out_w, grid_w, per_box_w)  # (N, R, out_w*grid_w)
    num_boxes = boxes.shape[1]
    rows, cols = ys.shape[-1], xs.shape[-1]
    # grid_sample (align_corners=False) normalises cell index i to (2 i + 1) / size - 1.
    gx = ((2 * xs + 1) / width - 1)[:, :, None, :].expand(n, num_boxes, rows, cols)
    gy = ((2 * ys + 1) / height - 1)[:, :, :, None].expand(n, num_boxes, rows, cols)
    grid = torch.stack([gx, gy], dim=-1).reshape(n, num_boxes * rows, cols, 2)
    inside_y = (ys >= -1.0) & (ys <= height) & used_y
    inside_x = (xs >= -1.0) & (xs <= width) & used_x
    weight = (inside_y[..., :, None] & inside_x[..., None, :]).to(features.dtype)  # (N, R, rows, cols)
    samples = F.grid_sample(features, grid, mode="bilinear", padding_mode="border", align_corners=False)
    samples = samples.reshape(n, c, num_boxes, rows, cols) * weight[:, None]
    samples = samples.reshape(n, c, num_boxes, out_h, grid_h, out_w, grid_w).sum(dim=(4, 6))
    if per_box_h is None:
        samples = samples / float(grid_h * grid_w)
    else:  # torchvision divides by the box's own sample count (out-of-map samples count as 0)
        samples = samples / (per_box_h * per_box_w).clamp(min=1)[:, None, :, None, None]
    return samples.permute(0, 2, 1, 3, 4)


def roi_align(features: torch.Tensor, rois: torch.Tensor, output_size: int | tuple[int, int],
              spatial_scale: float = 1.0, sampling_ratio: int = -1, aligned: bool = False) -> torch.Tensor:
    """torchvision-style RoIAlign (same argument order and defaults).

    Args:
        features: (N, C, H, W).
        rois: (K, 5) ``batch_index, x1, y1, x2, y2``.
    Returns:
        (K, C, out_h, out_w), in the order of ``rois``.

    A batch of one image takes one ``grid_sample`` call (export-friendly); several images are
    processed image by image in eager mode.
    """
    out_h, out_w = _pair(output_size)
    if rois.ndim != 2 or rois.shape[1] != 5:
        raise ValueError(f"roi_align: rois must be (K, 5) [batch_index, x1, y1, x2, y2], got {tuple(rois.shape)}")
    if features.shape[0] == 1:
        return roi_align_per_image(features, rois[None, :, 1:], (out_h, out_w), spatial_scale, sampling_ratio, aligned)[0]
    out = features.new_zeros((rois.shape[0], features.shape[1], out_h, out_w))
    batch_index = rois[:, 0].long()
    for image in range(features.shape[0]):
        index = torch.nonzero(batch_index == image).flatten()
        if index.numel():
            crops = roi_align_per_image(features[image:image + 1], rois[index][None, :, 1:], (out_h, out_w),
                                        spatial_scale, sampling_ratio, aligned)[0]
            out = out.index_copy(0, index, crops)
    return out


class RoIAlign(nn.Module):
    """Module wrapper of :func:`roi_align` (torchvision ``RoIAlign`` arguments)."""

    def __init__(self, output_size: int | tuple[int, int], spatial_scale: float, sampling_ratio: int,
                 aligned: bool = False) -> None:
        super().__init__()
        self.output_size = _pair(output_size)
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned

    def forward(self, features: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        return roi_align(features, rois, self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
                f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned}")
