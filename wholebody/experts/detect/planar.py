"""An RGB image converted ONCE to the planar float layout that ``boxes.letterbox`` resizes.

``PeopleDetector`` letterboxes the same image up to four times (MoveNet on the whole image and
on two tiles, CenterNet at 512 px).  Each call used to convert the uint8 (H, W, 3) image to a
float32 (3, H, W) tensor of its own: on a 1920 x 1537 photo one such conversion costs more CPU
than the antialiased resize after it.  ``PlanarImage`` holds the conversion; a tile is a view of
it (``image[:, a:b]`` as on an array), and ``letterbox`` resizes it exactly as it would resize
the uint8 image (the same float values in: tests/test_detect_letterbox_layout.py).
"""

from __future__ import annotations

import numpy as np
import torch


class PlanarImage:
    """An (H, W, 3) uint8 RGB image as a (1, 3, H, W) float32 tensor of 0-255 values.

    ``shape`` is the image's (H, W, 3), so code that reads an image's size reads it unchanged;
    indexing with row / column slices gives the same part of the image, still planar.
    """

    def __init__(self, tensor: torch.Tensor) -> None:
        if tensor.ndim != 4 or tensor.shape[:2] != (1, 3):
            raise ValueError(f"expected a (1, 3, H, W) tensor, got shape {tuple(tensor.shape)}")
        self.tensor = tensor

    @classmethod
    def of(cls, image: np.ndarray) -> PlanarImage:
        """The planar float32 copy of an (H, W, 3) uint8 image (one channel at a time: a strided
        transpose-and-convert in one numpy call is several times slower on large photos)."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
        planar = np.empty((3,) + image.shape[:2], dtype=np.float32)
        for channel in range(3):
            planar[channel] = image[:, :, channel]
        return cls(torch.from_numpy(planar)[None])

    @property
    def shape(self) -> tuple[int, int, int]:
        """(H, W, 3), as the image's."""
        return int(self.tensor.shape[2]), int(self.tensor.shape[3]), 3

    @property
    def ndim(self) -> int:
        return 3

    def __getitem__(self, index) -> PlanarImage:
        """Rows ``[a:b]`` or rows and columns ``[a:b, c:d]`` (slices only), as on the image array."""
        rows, cols = (index, slice(None)) if not isinstance(index, tuple) else (index + (slice(None),))[:2]
        if not isinstance(rows, slice) or not isinstance(cols, slice):
            raise TypeError("a PlanarImage takes row and column slices only")
        return PlanarImage(self.tensor[:, :, rows, cols])


def as_planar(image) -> torch.Tensor:
    """The (1, 3, H, W) float32 tensor of an (H, W, 3) uint8 array or a ``PlanarImage``."""
    if isinstance(image, PlanarImage):
        return image.tensor
    return PlanarImage.of(np.asarray(image)).tensor
