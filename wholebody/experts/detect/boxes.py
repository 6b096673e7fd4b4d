"""Box helpers for the experts: letterbox geometry, IoU and non-maximum suppression.

Coordinates are pixels.  ``Letterbox`` records how an original image was placed into a network
input so that every output can be mapped back to ORIGINAL image pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from wholebody.experts.detect.planar import as_planar


@dataclass(frozen=True)
class Letterbox:
    """Image -> network input: ``input = original * (scale_x, scale_y) + (pad_x, pad_y)``, pixels."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    input_w: int
    input_h: int

    def to_original(self, xy: np.ndarray) -> np.ndarray:
        """Map network-input pixel coordinates (..., 2) back to original image pixels."""
        return (np.asarray(xy, dtype=np.float64) - (self.pad_x, self.pad_y)) / (self.scale_x, self.scale_y)


def letterbox(image, input_w: int, input_h: int, keep_aspect: bool = True,
              fill: float = 0.0) -> tuple[torch.Tensor, Letterbox]:
    """Resize ``image`` (an (H, W, 3) uint8 array or a ``planar.PlanarImage``) to
    ``input_w x input_h``: centred with ``fill`` padding when ``keep_aspect``, else stretched.

    Returns a (1, input_h, input_w, 3) float32 tensor with values 0-255 and the geometry.
    Down-scaling is antialiased so thin limbs survive the reduction.
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
    h, w = image.shape[:2]
    if keep_aspect:
        scale = min(input_w / w, input_h / h)
        new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    else:
        scale, new_w, new_h = max(input_w / w, input_h / h), input_w, input_h
    pad_x, pad_y = (input_w - new_w) // 2, (input_h - new_h) // 2
    # Planar (1, 3, H, W) float32 (``planar``): the antialiased resize reads it faster than a
    # permuted view of the interleaved image, with the same sums in the same order (equal
    # outputs: tests/test_detect_letterbox_layout.py); a ``PlanarImage`` is converted already.
    chw = as_planar(image)
    resized = F.interpolate(chw, size=(new_h, new_w), mode="bilinear", align_corners=False,
                            antialias=bool(scale < 1))
    canvas = torch.full((1, 3, input_h, input_w), fill, dtype=torch.float32)
    canvas[:, :, pad_y:pad_y + new_h, pad_x:pad_x + new_w] = resized.clamp(0, 255)
    geometry = Letterbox(new_w / w, new_h / h, pad_x, pad_y, input_w, input_h)
    return canvas.permute(0, 2, 3, 1).contiguous(), geometry


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)


def iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) intersection-over-union of ``[x, y, w, h]`` boxes."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, :2] + a[:, None, 2:], b[None, :, :2] + b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    union = np.prod(a[:, None, 2:], axis=2) + np.prod(b[None, :, 2:], axis=2) - inter
    return inter / np.maximum(union, 1e-12)


def nms(boxes_xyxy: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; returns the kept indices, best score first."""
    boxes_xyxy = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores), kind="stable")
    areas = np.prod(np.clip(boxes_xyxy[:, 2:] - boxes_xyxy[:, :2], 0, None), axis=1)
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        lt = np.maximum(boxes_xyxy[best, :2], boxes_xyxy[rest, :2])
        rb = np.minimum(boxes_xyxy[best, 2:], boxes_xyxy[rest, 2:])
        inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
        iou = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-12)
        order = rest[iou <= iou_threshold]
    return np.array(keep, dtype=np.int64)
