"""Input pipeline of DOPE: normalise, resize, batch with padding, and map outputs back.

Images enter as (3, H, W) float RGB in [0, 1].  Each is normalised with the ImageNet mean and
std, then resized (bilinear) so that its shorter side becomes ``min_size`` unless the longer side
would exceed ``max_size`` (then the longer side becomes ``max_size``).  The batch is padded at the
bottom/right to a common size divisible by 32.  The :class:`Geometry` of each image (original
size, resized size, scale) is kept so that boxes and 2D poses, computed in resized pixels, are
mapped back to pixels of the *original* image: ``x_original = x_resized / scale_x``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SIZE_DIVISIBLE = 32


@dataclass(frozen=True)
class Geometry:
    """Where one image sits in the network input.

    Attributes:
        original_size: (H, W) of the image as given.
        resized_size: (H, W) of its resized content in the padded batch.
    """

    original_size: tuple[int, int]
    resized_size: tuple[int, int]

    @property
    def scale(self) -> tuple[float, float]:
        """(scale_x, scale_y): resized pixels per original pixel."""
        return (self.resized_size[1] / self.original_size[1], self.resized_size[0] / self.original_size[0])

    def to_original(self, points: torch.Tensor) -> torch.Tensor:
        """(..., 2k) x/y-interleaved resized coordinates (points or x1y1x2y2 boxes) -> original pixels."""
        sx, sy = self.scale
        factor = torch.tensor([1 / sx, 1 / sy], dtype=points.dtype, device=points.device)
        return (points.reshape(*points.shape[:-1], -1, 2) * factor).reshape(points.shape)

    def to_resized(self, points: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`to_original`."""
        sx, sy = self.scale
        factor = torch.tensor([sx, sy], dtype=points.dtype, device=points.device)
        return (points.reshape(*points.shape[:-1], -1, 2) * factor).reshape(points.shape)


def resized_size(height: int, width: int, min_size: int, max_size: int) -> tuple[int, int]:
    """(H, W) after scaling the shorter side to ``min_size``, capped so the longer <= ``max_size``."""
    scale = min(min_size / min(height, width), max_size / max(height, width))
    return max(1, int(round(height * scale))), max(1, int(round(width * scale)))


class ImageTransform:
    """Normalise + resize + pad a list of images into one batch tensor."""

    def __init__(self, min_size: int = 800, max_size: int = 1333) -> None:
        if min_size <= 0 or max_size < min_size:
            raise ValueError(f"need 0 < min_size <= max_size, got {min_size}, {max_size}")
        self.min_size = int(min_size)
        self.max_size = int(max_size)

    def __call__(self, images: list[torch.Tensor], dtype: torch.dtype = torch.float32
                 ) -> tuple[torch.Tensor, list[Geometry]]:
        """Images (3, H, W) in [0, 1] -> padded batch (N, 3, H', W') and per-image geometry."""
        if not images:
            raise ValueError("ImageTransform: empty image list")
        resized, geometry = [], []
        for image in images:
            if image.ndim != 3 or image.shape[0] != 3:
                raise ValueError(f"expected a (3, H, W) RGB image tensor, got shape {tuple(image.shape)}")
            height, width = image.shape[-2:]
            mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32, device=image.device)[:, None, None]
            std = torch.tensor(IMAGENET_STD, dtype=torch.float32, device=image.device)[:, None, None]
            normalised = (image.float() - mean) / std
            size = resized_size(height, width, self.min_size, self.max_size)
            if size != (height, width):
                normalised = F.interpolate(normalised[None], size=size, mode="bilinear", align_corners=False)[0]
            resized.append(normalised)
            geometry.append(Geometry((int(height), int(width)), size))
        pad_h = -(-max(r.shape[1] for r in resized) // SIZE_DIVISIBLE) * SIZE_DIVISIBLE
        pad_w = -(-max(r.shape[2] for r in resized) // SIZE_DIVISIBLE) * SIZE_DIVISIBLE
        batch = resized[0].new_zeros((len(resized), 3, pad_h, pad_w))
        for i, r in enumerate(resized):
            batch[i, :, : r.shape[1], : r.shape[2]] = r
        return batch.to(dtype), geometry
