"""Top-down crops with recorded geometry, and their augmentation (flip, rotation, scale, half-body).

Coordinates: pixels with the origin at the top-left corner of the top-left pixel (pixel centres
at i + 0.5), in the original image and in the crop alike.  A crop is described by a 2x3 affine
``matrix`` mapping original -> crop pixels; :func:`invert_affine` maps predictions back.

Crop rectangle (mmpose convention): the person box's centre, the box widened or heightened to
the crop's aspect ratio, times ``padding`` (1.25).  Augmentation changes the centre (shift,
half-body), the size (scale), the angle (``rotation``: the content turns counter-clockwise by
that many degrees) and mirrors the crop (``flip``), after which keypoints are relabelled with
the schema's flip permutation (left/right body points, face points, hand blocks swap).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from wholebody.schema import COCO_WHOLEBODY

FLIP_PERMUTATION = COCO_WHOLEBODY.flip_permutation()
UPPER_BODY = np.arange(0, 11)  # nose .. wrists (mmpose's "upper" tag)
LOWER_BODY = np.arange(11, 23)  # hips .. feet


@dataclass(frozen=True)
class AugmentConfig:
    """Random crop augmentation (defaults: the mmpose 0.x COCO-WholeBody recipe, see the brief B6)."""

    flip_prob: float = 0.5
    rotation: float = 40.0  # degrees: N(0, rotation) clipped to +-2 x, applied with rotation_prob
    rotation_prob: float = 0.6
    scale: float = 0.35  # size factor N(1, scale) clipped to 1 +- scale
    shift: float = 0.16  # centre shift, uniform +- shift x size, applied with shift_prob
    shift_prob: float = 0.3
    half_body_prob: float = 0.3
    half_body_min_points: int = 8  # labelled body+foot points needed to try a half-body crop
    roi_jitter_shift: float = 0.1  # ZoomNet part boxes: centre shift, fraction of the box size
    roi_jitter_scale: float = 0.1  # ZoomNet part boxes: size factor uniform 1 +- this

    @classmethod
    def none(cls) -> "AugmentConfig":
        """No augmentation at all."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 8, 0.0, 0.0)

    @classmethod
    def part_jitter_only(cls, jitter: float = 0.1) -> "AugmentConfig":
        """Plain crops, but ZoomNet's part boxes still jittered: its zoom-in heads must cope with
        the boxes it decodes itself at test time (``--no-augment`` training, overfit checks)."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 8, jitter, jitter)


@dataclass
class CropGeometry:
    """Where a crop came from: ``matrix`` (2, 3) maps original -> crop pixels."""

    center: np.ndarray  # (2,) original pixels
    size: np.ndarray  # (2,) width, height of the cropped rectangle, original pixels
    rotation: float  # degrees, content turned counter-clockwise
    flip: bool
    output_size: tuple[int, int]  # crop (height, width)
    matrix: np.ndarray  # (2, 3)


def box_to_center_size(box_xywh, aspect: float, padding: float = 1.25) -> tuple[np.ndarray, np.ndarray]:
    """Centre and (w, h) of the crop rectangle for a person box; ``aspect`` = crop width / height."""
    x, y, w, h = (float(v) for v in box_xywh)
    center = np.array([x + w / 2, y + h / 2])
    if w > aspect * h:
        h = w / aspect
    else:
        w = h * aspect
    return center, np.array([w, h]) * padding


def crop_matrix(center, size, rotation: float, output_size: tuple[int, int], flip: bool = False) -> np.ndarray:
    """2x3 affine original -> crop: centre to the crop centre, ``size`` to the crop, rotated, mirrored."""
    out_h, out_w = output_size
    theta = np.deg2rad(rotation)
    cos, sin = np.cos(theta), np.sin(theta)
    linear = np.array([[cos, sin], [-sin, cos]]) * np.array([[out_w / size[0]], [out_h / size[1]]])
    if flip:
        linear = np.array([[-1.0, 0.0], [0.0, 1.0]]) @ linear
    offset = np.array([out_w / 2, out_h / 2]) - linear @ np.asarray(center, dtype=np.float64)
    return np.concatenate([linear, offset[:, None]], axis=1)


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine (or a stack of them, (..., 2, 3))."""
    matrix = np.asarray(matrix, dtype=np.float64)
    linear_inv = np.linalg.inv(matrix[..., :2])
    offset = -np.einsum("...ij,...j->...i", linear_inv, matrix[..., 2])
    return np.concatenate([linear_inv, offset[..., None]], axis=-1)


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map (..., 2) points with one 2x3 affine."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def warp_image(image: np.ndarray, matrix: np.ndarray, output_size: tuple[int, int]) -> torch.Tensor:
    """Crop an (H, W, 3) uint8 image through ``matrix`` -> (3, out_h, out_w) float32 0..255.

    Bilinear sampling at each crop pixel centre; outside the image is black.
    """
    out_h, out_w = output_size
    height, width = image.shape[:2]
    inverse = invert_affine(matrix)
    ys, xs = np.meshgrid(np.arange(out_h) + 0.5, np.arange(out_w) + 0.5, indexing="ij")
    src = apply_affine(np.stack([xs, ys], axis=-1), inverse)  # original pixel coordinates
    grid = np.stack([2 * src[..., 0] / width - 1, 2 * src[..., 1] / height - 1], axis=-1)
    source = torch.from_numpy(np.asarray(image, dtype=np.float32).transpose(2, 0, 1).copy())[None]
    crop = F.grid_sample(source, torch.from_numpy(grid[None]).float(), mode="bilinear", padding_mode="zeros",
                         align_corners=False)
    return crop[0]


def warp_image_uint8(image: np.ndarray, matrix: np.ndarray, output_size: tuple[int, int]) -> torch.Tensor:
    """:func:`warp_image` rounded to a (3, out_h, out_w) uint8 crop, at a fraction of its cost.

    Only the part of the image the crop samples (its bounding box plus the bilinear neighbours)
    is converted to float, instead of the whole image (for a person crop of a COCO photo that
    conversion was the larger half of the warp), and the sampling grid comes from one composed
    affine (``affine_grid``) instead of float64 arrays.  The sampling positions are the same up
    to float32 rounding (about 1e-5 pixel), so a pixel can differ by one level from the rounded
    :func:`warp_image` where the exact value sits on .5 (tested: under 0.1 % of the pixels).
    """
    out_h, out_w = output_size
    height, width = image.shape[:2]
    inverse = np.vstack([invert_affine(matrix), [0.0, 0.0, 1.0]])
    # An affine map's extremes over the crop's pixel centres are at its four corner pixels.
    corners = np.array([[0.5, 0.5, 1.0], [out_w - 0.5, 0.5, 1.0], [0.5, out_h - 0.5, 1.0], [out_w - 0.5, out_h - 0.5, 1.0]])
    src = corners @ inverse[:2].T  # original pixels
    # pixel centres at i + 0.5: a position x reads columns floor(x - 0.5) and floor(x - 0.5) + 1
    x0, y0 = (int(v) for v in np.clip(np.floor(src.min(axis=0) - 0.5), 0, [width, height]))
    x1, y1 = (int(v) for v in np.clip(np.floor(src.max(axis=0) - 0.5) + 2, 0, [width, height]))
    if x1 <= x0 or y1 <= y0:  # the crop misses the image: black, like the zero padding
        return torch.zeros((3, out_h, out_w), dtype=torch.uint8)
    # normalised crop coordinates -> crop pixels -> original pixels -> normalised region coordinates
    from_normalised = np.array([[out_w / 2, 0.0, out_w / 2], [0.0, out_h / 2, out_h / 2], [0.0, 0.0, 1.0]])
    to_region = np.array([[2 / (x1 - x0), 0.0, -2 * x0 / (x1 - x0) - 1], [0.0, 2 / (y1 - y0), -2 * y0 / (y1 - y0) - 1]])
    theta = torch.from_numpy(to_region @ inverse @ from_normalised).float()[None]
    grid = F.affine_grid(theta, [1, 3, out_h, out_w], align_corners=False)
    source = torch.from_numpy(image[y0:y1, x0:x1].astype(np.float32)).permute(2, 0, 1)[None]
    crop = F.grid_sample(source, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return crop[0].round_().clamp_(0, 255).to(torch.uint8)


def half_body_center_size(keypoints: np.ndarray, aspect: float, rng: np.random.Generator,
                          padding: float = 1.5) -> tuple[np.ndarray, np.ndarray] | None:
    """Crop rectangle around the labelled upper or lower body (+ feet) points, or None if too few."""
    labelled = keypoints[:, 2] > 0
    upper = UPPER_BODY[labelled[UPPER_BODY]]
    lower = LOWER_BODY[labelled[LOWER_BODY]]
    chosen = upper if (rng.random() < 0.5 and len(upper) > 2) or len(lower) < 2 else lower
    if len(chosen) < 2:
        return None
    points = keypoints[chosen, :2]
    low, high = points.min(axis=0), points.max(axis=0)
    return box_to_center_size((low[0], low[1], *(high - low)), aspect, padding)


def sample_geometry(box_xywh, keypoints: np.ndarray, output_size: tuple[int, int], config: AugmentConfig,
                    rng: np.random.Generator | None) -> CropGeometry:
    """The crop of one person: the plain padded box, randomly augmented when ``rng`` is given."""
    aspect = output_size[1] / output_size[0]
    center, size = box_to_center_size(box_xywh, aspect)
    rotation, flip = 0.0, False
    if rng is not None:
        body_labelled = int((keypoints[:23, 2] > 0).sum())
        if body_labelled > config.half_body_min_points and rng.random() < config.half_body_prob:
            half = half_body_center_size(keypoints, aspect, rng)
            if half is not None:
                center, size = half
        if rng.random() < config.shift_prob:
            center = center + rng.uniform(-1, 1, 2) * config.shift * size
        size = size * float(np.clip(rng.normal(1.0, config.scale), 1 - config.scale, 1 + config.scale))
        if rng.random() < config.rotation_prob:
            rotation = float(np.clip(rng.normal(0.0, config.rotation), -2 * config.rotation, 2 * config.rotation))
        flip = bool(rng.random() < config.flip_prob)
    matrix = crop_matrix(center, size, rotation, output_size, flip)
    return CropGeometry(center, size, rotation, flip, tuple(output_size), matrix)


def transform_keypoints(keypoints: np.ndarray, geometry: CropGeometry) -> np.ndarray:
    """(133, 3) original keypoints -> crop pixels, relabelled after a flip (third column kept)."""
    out = keypoints.astype(np.float64).copy()
    out[:, :2] = apply_affine(out[:, :2], geometry.matrix)
    return out[FLIP_PERMUTATION] if geometry.flip else out


def transform_part_valid(part_valid: dict[str, bool], flip: bool) -> dict[str, bool]:
    """``*_valid`` flags follow the hands when a flip swaps them."""
    valid = dict(part_valid)
    if flip:
        valid["lefthand"], valid["righthand"] = part_valid.get("righthand", False), part_valid.get("lefthand", False)
    return valid


def keypoints_to_original(keypoints_crop: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Inverse transform of predictions: (..., K, 2+) crop pixels -> original pixels (extra columns kept).

    Predictions are already in the unflipped labelling (flip test undoes its own mirroring), so
    only the geometry is inverted.
    """
    out = np.array(keypoints_crop, dtype=np.float64, copy=True)
    out[..., :2] = apply_affine(out[..., :2], invert_affine(matrix))
    return out
