"""Rotated square crops with an exact affine map between crop and original pixels.

Every part expert sees the image through a ``SquareCrop``: a square of side ``side`` original
pixels centred on ``center``, rotated so that the crop's "up" (-y) points along a chosen image
direction, resampled to ``size`` x ``size`` model pixels.  Both frames use the COCO continuous
pixel convention (origin at the top-left *corner* of the top-left pixel), which is also how
MediaPipe models report landmarks (normalised by the input size), so ``to_image`` maps model
outputs back to original pixels with no half-pixel drift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Input side of MediaPipe's face_landmark model.  Defined here, with the crop geometry, because
# the face mesh (landmarks.face) and the face detectors that build mesh crops (detect.face_detector,
# detect.faces) all need it and landmarks and detect must not import each other for it.
FACE_MESH_INPUT_SIZE = 192


@dataclass(frozen=True)
class SquareCrop:
    """A square, possibly rotated crop.

    Attributes:
        center: (x, y) crop centre in original pixels.
        side: side length in original pixels.
        angle: rotation in radians; the crop's x axis is (cos a, sin a) in the image (y down),
            so angle 0 is an upright, axis-aligned crop.
        size: side length of the resampled crop in model pixels.
    """

    center: tuple[float, float]
    side: float
    angle: float
    size: int

    @property
    def scale(self) -> float:
        """Original pixels per crop pixel."""
        return self.side / self.size

    def _axes(self) -> np.ndarray:
        """(2, 2) matrix whose columns are the crop x and y axes as image unit vectors."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        return np.array([[c, -s], [s, c]])

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Map (..., 2) crop pixel coordinates to original pixels (extra columns are dropped)."""
        uv = np.asarray(points, dtype=np.float64)[..., :2] - self.size / 2.0
        return uv @ (self._axes().T * self.scale) + np.asarray(self.center)

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Map (..., 2) original pixel coordinates to crop pixels."""
        xy = np.asarray(points, dtype=np.float64)[..., :2] - np.asarray(self.center)
        return xy @ self._axes() / self.scale + self.size / 2.0

    def rotate_vectors_to_image(self, vectors: np.ndarray) -> np.ndarray:
        """Rotate (..., 3) vectors given in crop axes (x right, y down, z away) into image axes."""
        v = np.asarray(vectors, dtype=np.float64).copy()
        v[..., :2] = v[..., :2] @ self._axes().T
        return v

    def affine_to_crop(self) -> np.ndarray:
        """(2, 3) matrix for ``cv2.warpAffine`` (pixel-centre convention) from image to crop."""
        a = self._axes().T / self.scale  # image offset -> crop offset
        b = self.size / 2.0 - a @ np.asarray(self.center)
        # Convert corner-convention p' = A p + b into cv2's centre convention (p - 0.5).
        b = b + a @ np.array([0.5, 0.5]) - 0.5
        return np.hstack([a, b[:, None]])

    def extract(self, image: np.ndarray) -> np.ndarray:
        """Resample the crop from an (H, W, C) uint8 image; outside the image is black."""
        import cv2

        return cv2.warpAffine(
            image,
            self.affine_to_crop(),
            (self.size, self.size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )


def angle_for_up(direction: np.ndarray) -> float:
    """Crop angle that makes the crop's up (-y) axis point along image ``direction`` (dx, dy)."""
    dx, dy = float(direction[0]), float(direction[1])
    if dx == 0.0 and dy == 0.0:
        return 0.0
    return math.atan2(dx, -dy)


def crop_from_box(box_xywh: np.ndarray, scale: float, size: int, angle: float = 0.0) -> SquareCrop:
    """Square crop around a ``[x, y, w, h]`` box: side = ``scale`` x the longer box side."""
    x, y, w, h = (float(v) for v in box_xywh)
    return SquareCrop(center=(x + w / 2.0, y + h / 2.0), side=max(w, h, 1.0) * scale, angle=angle, size=size)


def box_of_points(points: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray | None:
    """Tight ``[x, y, w, h]`` box of (N, >=2) points (only rows where ``valid``), or None."""
    pts = np.asarray(points, dtype=np.float64)[:, :2]
    if valid is not None:
        pts = pts[np.asarray(valid, dtype=bool)]
    if len(pts) == 0:
        return None
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])
