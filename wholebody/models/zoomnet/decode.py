"""Heatmaps -> keypoints: argmax with a quarter-cell shift or DARK sub-pixel refinement, flip test.

Outputs are in *continuous cell coordinates*: cell u spans [u, u+1), so a peak at cell index u
is at u + 0.5 before refinement; multiply by the stride (or the RoI cell size) to get crop
pixels.  Scores are the heatmap values at the peak cell.

Flip test (run by ``wholebody.models.zoomnet.flip_test``): the crop is also run mirrored, the
mirrored heatmaps are flipped back and their channels relabelled with the schema's flip
permutation, then averaged with the plain ones.  No
extra 1-cell shift is applied (mmpose's ``shift_heatmap``): with cells spanning [u, u+1) a
mirror maps x to W - x exactly, so flipped heatmaps are already aligned.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from wholebody.models.zoomnet.layout import NUM_BODY_FOOT, PART_BOXES
from wholebody.schema import COCO_WHOLEBODY, PART_SLICES

FLIP_133 = torch.as_tensor(COCO_WHOLEBODY.flip_permutation())
FLIP_BODY_FOOT = FLIP_133[:NUM_BODY_FOOT]
FLIP_FACE = FLIP_133[PART_SLICES["face"]] - PART_SLICES["face"].start


def argmax_points(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, K, h, w) -> integer peak cells (B, K, 2) as float x, y and peak values (B, K)."""
    width = heatmaps.shape[-1]
    scores, index = heatmaps.flatten(2).max(dim=-1)
    coords = torch.stack([index % width, torch.div(index, width, rounding_mode="floor")], dim=-1)
    return coords.to(heatmaps.dtype), scores


def _values_at(maps: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """maps (B, K, h, w) read at integer (B, K) cells, clamped to the map."""
    xs = xs.long().clamp(0, maps.shape[-1] - 1)
    ys = ys.long().clamp(0, maps.shape[-2] - 1)
    flat = (ys * maps.shape[-1] + xs).unsqueeze(-1)
    return maps.flatten(2).gather(-1, flat).squeeze(-1)


def quarter_offset(heatmaps: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Shift each integer peak by 0.25 cell towards its higher neighbour, per axis (mmpose "default")."""
    h, w = heatmaps.shape[-2:]
    x, y = coords[..., 0], coords[..., 1]
    dx = _values_at(heatmaps, x + 1, y) - _values_at(heatmaps, x - 1, y)
    dy = _values_at(heatmaps, x, y + 1) - _values_at(heatmaps, x, y - 1)
    dx = torch.where((x >= 1) & (x <= w - 2), dx.sign(), torch.zeros_like(dx))
    dy = torch.where((y >= 1) & (y <= h - 2), dy.sign(), torch.zeros_like(dy))
    return coords + 0.25 * torch.stack([dx, dy], dim=-1)


def gaussian_blur(heatmaps: torch.Tensor, kernel: int) -> torch.Tensor:
    """Per-channel Gaussian blur (sigma from the kernel size, as OpenCV picks it), keeping each max."""
    sigma = 0.3 * ((kernel - 1) * 0.5 - 1) + 0.8
    taps = torch.arange(kernel, dtype=heatmaps.dtype, device=heatmaps.device) - (kernel - 1) / 2
    g = torch.exp(-taps**2 / (2 * sigma**2))
    g = g / g.sum()
    b, k, h, w = heatmaps.shape
    x = F.pad(heatmaps.reshape(b * k, 1, h, w), [kernel // 2] * 4)  # zeros outside, as mmpose
    x = F.conv2d(F.conv2d(x, g.view(1, 1, 1, -1)), g.view(1, 1, -1, 1)).reshape(b, k, h, w)
    peak_before = heatmaps.flatten(2).amax(-1)[..., None, None]
    peak_after = x.flatten(2).amax(-1)[..., None, None].clamp(min=1e-10)
    return x * peak_before / peak_after


def dark_offset(heatmaps: torch.Tensor, coords: torch.Tensor, kernel: int = 11) -> torch.Tensor:
    """DARK: Newton step on the log of the blurred heatmap at the integer peak (second-order Taylor)."""
    logmap = torch.log(gaussian_blur(heatmaps, kernel).clamp(min=1e-10))
    logmap = F.pad(logmap, [2, 2, 2, 2], mode="replicate")
    x, y = coords[..., 0] + 2, coords[..., 1] + 2

    def at(dx: int, dy: int) -> torch.Tensor:
        return _values_at(logmap, x + dx, y + dy)

    gx, gy = 0.5 * (at(1, 0) - at(-1, 0)), 0.5 * (at(0, 1) - at(0, -1))
    hxx = 0.25 * (at(2, 0) - 2 * at(0, 0) + at(-2, 0))
    hyy = 0.25 * (at(0, 2) - 2 * at(0, 0) + at(0, -2))
    hxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    det = hxx * hyy - hxy**2
    ok = det.abs() > 1e-12
    safe = torch.where(ok, det, torch.ones_like(det))
    off_x = torch.where(ok, -(hyy * gx - hxy * gy) / safe, torch.zeros_like(det))
    off_y = torch.where(ok, -(hxx * gy - hxy * gx) / safe, torch.zeros_like(det))
    offset = torch.stack([off_x, off_y], dim=-1).clamp(-1.0, 1.0)  # a wild step is not a refinement
    return coords + offset


def decode_heatmaps(heatmaps: torch.Tensor, method: str = "default") -> tuple[torch.Tensor, torch.Tensor]:
    """(B, K, h, w) -> continuous cell coordinates (B, K, 2) and scores (B, K).

    ``method``: ``"default"`` (argmax + quarter-cell shift), ``"dark"`` (DARK refinement) or
    ``"argmax"`` (no refinement).
    """
    heatmaps = heatmaps.float()
    coords, scores = argmax_points(heatmaps)
    if method == "default":
        coords = quarter_offset(heatmaps, coords)
    elif method == "dark":
        coords = dark_offset(heatmaps, coords)
    elif method != "argmax":
        raise ValueError(f"unknown heatmap decoding {method!r} (expected 'default', 'dark' or 'argmax')")
    return coords + 0.5, scores


def flip_back(heatmaps: torch.Tensor, permutation: torch.Tensor | None) -> torch.Tensor:
    """Heatmaps of a mirrored crop -> the unmirrored crop's frame and labelling."""
    flipped = heatmaps.flip(-1)
    return flipped if permutation is None else flipped[:, permutation.to(heatmaps.device)]


def mirror_rois(rois: torch.Tensor, width: float) -> torch.Tensor:
    """ZoomNet RoIs (B, 3, 4) of a crop -> the mirrored crop's RoIs (x mirrored, hands swapped)."""
    mirrored = torch.stack([width - rois[..., 2], rois[..., 1], width - rois[..., 0], rois[..., 3]], dim=-1)
    # slices, not a list index: a list becomes a host tensor copied to the device on every call
    return torch.cat([mirrored[:, :1], mirrored[:, 2:3], mirrored[:, 1:2]], dim=1)


def heatmaps_to_keypoints(outputs: dict[str, torch.Tensor], architecture: str, stride: int = 4,
                          method: str = "default") -> torch.Tensor:
    """Model outputs -> (B, 133, 3) keypoints: x, y in crop pixels, score (heatmap peak)."""
    if architecture == "hrnet133":
        coords, scores = decode_heatmaps(outputs["wholebody"], method)
        return torch.cat([coords * stride, scores[..., None]], dim=-1)
    coords, scores = decode_heatmaps(outputs["body"], method)
    parts = [torch.cat([coords * stride, scores[..., None]], dim=-1)]
    for index, part in enumerate(PART_BOXES):
        heatmaps = outputs[part]
        coords, scores = decode_heatmaps(heatmaps, method)
        roi = outputs["rois"][:, index].float()
        cell = (roi[:, 2:] - roi[:, :2]) / torch.tensor([heatmaps.shape[-1], heatmaps.shape[-2]], device=roi.device)
        parts.append(torch.cat([roi[:, None, :2] + coords * cell[:, None], scores[..., None]], dim=-1))
    return torch.cat(parts, dim=1)
