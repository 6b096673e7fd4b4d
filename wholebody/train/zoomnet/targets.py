"""Training targets built on the training device, for a whole batch at once, from crop-space labels.

A DataLoader worker ships only the uint8 crop and the labels of ``wholebody.train.zoomnet.labels``
(a few KB); the heatmaps (HRNet-133: 133 x 96 x 72 float32 = 3.7 MB per sample) are computed
here inside the training step, on whatever device the labels are on, with no per-sample or
per-point Python loop and no host synchronisation.

Heatmap convention: a heatmap of stride s covers the crop with cells [u s, (u+1) s); a point at
crop pixel x sits at continuous cell coordinate x / s, i.e. at cell *index* x / s - 0.5.  The
Gaussian is centred there exactly (no rounding: "unbiased" encoding), peak 1, and sigma by
resolution: 2 at 64 rows (64x48, 64x64), 3 at 96x72 (``sigma_for``).

Weights are 1 for a point that is labelled (v > 0), belongs to a valid part (``*_valid``) and
lies inside the heatmap; 0 otherwise, so unlabelled or invalid points never enter the loss.
"""

from __future__ import annotations

import functools

import torch

from wholebody.models.zoomnet.network import NUM_BODY_FOOT, PART_BOXES
from wholebody.schema import PART_SLICES

STRIDE = 4  # heatmap stride of both architectures (crop pixels per cell)


def sigma_for(heatmap_height: int) -> float:
    """Gaussian sigma in cells: 2 at 64 rows, 3 at 96 rows (mmpose's choices), linear between."""
    return 2.0 * heatmap_height / 64.0


def gaussian_heatmaps(points: torch.Tensor, weights: torch.Tensor, size: tuple[int, int],
                      sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Heatmaps for (..., K, 2) points in continuous cell coordinates, on their device.

    Args:
        points: (..., K, 2) x, y in cells (pixel-corner origin: cell u spans [u, u+1)).
        weights: (..., K) > 0 for points to encode, 0 to skip.
        size: (height, width) in cells.
    Returns:
        heatmaps (..., K, h, w) float32 with peak 1 at the point, weights (..., K) float32 (0
        outside the map, unlabelled or not finite).
    """
    height, width = size
    points = torch.as_tensor(points).to(torch.float64)  # the 1-D profiles in float64, like the CPU
    weights = torch.as_tensor(weights, device=points.device)
    x, y = points[..., 0], points[..., 1]
    keep = (weights > 0) & (x >= 0) & (x < width) & (y >= 0) & (y < height) & torch.isfinite(points).all(dim=-1)
    cells_x = torch.arange(width, device=points.device, dtype=torch.float64) + 0.5
    cells_y = torch.arange(height, device=points.device, dtype=torch.float64) + 0.5
    dx = torch.nan_to_num(cells_x - x[..., None])  # (..., K, w) distance of each cell centre
    dy = torch.nan_to_num(cells_y - y[..., None])
    gx = torch.exp(-dx.square() / (2 * sigma**2)).float()
    gy = (torch.exp(-dy.square() / (2 * sigma**2)) * keep[..., None]).float()
    return gy[..., :, None] * gx[..., None, :], keep.float()


def hrnet133_targets(labels: dict[str, torch.Tensor], input_size: tuple[int, int]) -> dict[str, torch.Tensor]:
    """133 heatmaps at 1/4 of the crop: ``wholebody`` (B, 133, h, w) and ``wholebody_weight`` (B, 133)."""
    size = (input_size[0] // STRIDE, input_size[1] // STRIDE)
    maps, weights = gaussian_heatmaps(labels["keypoints"] / STRIDE, labels["weights"], size, sigma_for(size[0]))
    return {"wholebody": maps, "wholebody_weight": weights}


def box_points(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) x1, y1, x2, y2 -> (..., 5, 2): top-left, top-right, bottom-left, bottom-right, centre."""
    x1, y1, x2, y2 = boxes.unbind(-1)
    return torch.stack([torch.stack(p, dim=-1) for p in
                        ((x1, y1), (x2, y1), (x1, y2), (x2, y2), ((x1 + x2) / 2, (y1 + y2) / 2))], dim=-2)


@functools.lru_cache(maxsize=8)
def _head_points(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Keypoint indices of the ``PART_BOXES`` parts, in order, and the part (0..2) of each; made
    once per device so a step copies nothing to it."""
    slices = [PART_SLICES[part] for part in PART_BOXES]
    index = torch.cat([torch.arange(sl.start, sl.stop) for sl in slices])
    owner = torch.cat([torch.full((sl.stop - sl.start,), i) for i, sl in enumerate(slices)])
    return index.to(device), owner.to(device)


def zoomnet_targets(labels: dict[str, torch.Tensor], input_size: tuple[int, int],
                    part_size: int) -> dict[str, torch.Tensor]:
    """ZoomNet targets for a batch of labels (``wholebody.train.zoomnet.labels.zoomnet_labels``).

    Returns ``body`` (B, 23, h, w) + ``body_weight`` (B, 23); ``boxes`` (B, 15, h, w) +
    ``boxes_weight`` (B, 15); ``rois`` (B, 3, 4) as shipped; and per part of ``PART_BOXES`` its
    (B, n, S, S) heatmaps over the RoI with ``<part>_weight`` (B, n).
    """
    keypoints, weights = labels["keypoints"], labels["weights"]
    batch = keypoints.shape[0]
    size = (input_size[0] // STRIDE, input_size[1] // STRIDE)
    sigma = sigma_for(size[0])
    body, body_w = gaussian_heatmaps(keypoints[:, :NUM_BODY_FOOT] / STRIDE, weights[:, :NUM_BODY_FOOT], size, sigma)
    corners = box_points(labels["part_boxes"]).reshape(batch, -1, 2)  # (B, 15, 2)
    corner_weights = labels["part_box_weight"][:, :, None].expand(-1, -1, 5).reshape(batch, -1)
    boxes, boxes_w = gaussian_heatmaps(corners / STRIDE, corner_weights, size, sigma)
    out = {"body": body, "body_weight": body_w, "boxes": boxes, "boxes_weight": boxes_w, "rois": labels["rois"]}
    # All head points in one call: each point in the cells of its own part's RoI.
    index, owner = _head_points(keypoints.device)
    rois = labels["rois"].to(torch.float64)[:, owner]  # (B, n, 4)
    cells = (keypoints[:, index] - rois[..., :2]) / (rois[..., 2:] - rois[..., :2]) * part_size
    head_weights = weights[:, index] * labels["part_box_weight"][:, owner]
    maps, head_w = gaussian_heatmaps(cells, head_weights, (part_size, part_size), sigma_for(part_size))
    start = 0
    for part in PART_BOXES:  # three views of the one computation
        stop = start + PART_SLICES[part].stop - PART_SLICES[part].start
        out[part], out[part + "_weight"] = maps[:, start:stop], head_w[:, start:stop]
        start = stop
    return out


def build_targets(architecture: str, labels: dict[str, torch.Tensor], model_config) -> dict[str, torch.Tensor]:
    """The loss targets of ``architecture`` for a batch of labels, on the labels' device."""
    input_size = tuple(model_config.input_size)
    if architecture == "zoomnet":
        return zoomnet_targets(labels, input_size, model_config.part_crop)
    return hrnet133_targets(labels, input_size)


def step_inputs(batch: dict, architecture: str, model_config, device: torch.device | str):
    """A collated batch -> (images (B, 3, H, W) float32 0..255, targets), both on ``device``.

    The uint8 crops and the small labels cross to the device; the crops become float and the
    targets are built there.
    """
    images = batch["images"].to(device, non_blocking=True).float()
    labels = {k: v.to(device, non_blocking=True) for k, v in batch["labels"].items()}
    return images, build_targets(architecture, labels, model_config)
