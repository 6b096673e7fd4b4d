"""One MediaPipe SSD detector (BlazeFace, palm) run on image regions, merged by weighted NMS.

Every bundled MediaPipe detector has the same head: per anchor a row ``(dx, dy, w, h, kx0,
ky0, ...)`` in input pixels and a score logit (``wholebody.experts.detect.ssd``).  This class runs one
such model on the letterboxed image and, optionally, on overlapping tiles, maps every
candidate to original pixels and suppresses duplicates across regions in one weighted NMS, so a
part seen by two tiles is one detection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wholebody.experts.crops import SquareCrop
from wholebody.experts.detect.regions import letterbox_region, load_detector, tile_regions
from wholebody.experts.detect.ssd import decode_ssd, ssd_anchors, weighted_nms


@dataclass
class SsdDetection:
    """One detection in original pixels: ``score`` in [0, 1], ``box`` ``[x, y, w, h]``, ``keypoints`` (K, 2)."""

    score: float
    box: np.ndarray
    keypoints: np.ndarray


class SsdDetector:
    """``detector(image) -> list[SsdDetection]`` for one bundled SSD model on the whole image.

    Args:
        model: bundled model name (``runtime.tflite.MODEL_FILES``).
        strides, per_cell: SSD anchor layout (``ssd.ssd_anchors``).
        pixel_range: ``(low, high)`` the model's input range ([-1, 1] for BlazeFace, [0, 1] for palms).
        score_threshold: minimum sigmoid score; iou_threshold: weighted-NMS overlap.
        tiles: by default also run on overlapping tiles of side ``tile_fraction`` x the shorter
            image side (each call may say otherwise).
    """

    def __init__(self, model: str, strides: tuple[int, ...], per_cell: int, pixel_range: tuple[float, float],
                 score_threshold: float, iou_threshold: float = 0.3, tiles: bool = False,
                 tile_fraction: float = 0.6, num_threads: int = 1) -> None:
        self.model = load_detector(model, num_threads)
        self.size = self.model.input_size
        self.anchors = ssd_anchors(self.size, strides, per_cell)
        self.low, self.high = pixel_range
        self.score_threshold, self.iou_threshold = score_threshold, iou_threshold
        self.tiles, self.tile_fraction = tiles, tile_fraction

    def regions(self, height: int, width: int, tiles: bool | None = None) -> list[SquareCrop]:
        """The letterboxed image, then the tiles if ``tiles`` (None: the detector's default)."""
        regions = [letterbox_region(height, width, self.size)]
        if self.tiles if tiles is None else tiles:
            regions += tile_regions(height, width, self.size, self.tile_fraction)
        return regions

    def candidates(self, image: np.ndarray, region: SquareCrop) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores (M,), corners (M, 4) and keypoints (M, K, 2) above threshold in one region, original pixels."""
        pixels = region.extract(image).astype(np.float32) * ((self.high - self.low) / 255.0) + self.low
        # Outputs: boxes (widest) and score logits; tell them apart by width, not by name.
        raw, logits = sorted(self.model(pixels[None]), key=lambda t: -t.shape[-1])
        scores, corners, keypoints = decode_ssd(raw, logits, self.anchors, self.size, self.score_threshold)
        corners = region.to_image(corners.reshape(-1, 2) * self.size).reshape(-1, 4)
        keypoints = region.to_image(keypoints * self.size)
        return scores, corners, keypoints

    def __call__(self, image: np.ndarray, tiles: bool | None = None) -> list[SsdDetection]:
        """Detections in an (H, W, 3) uint8 RGB image, best first (``tiles`` as in ``regions``)."""
        regions = self.regions(*image.shape[:2], tiles)
        return merge_candidates([self.candidates(image, r) for r in regions], self.iou_threshold)


def merge_candidates(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                     iou_threshold: float) -> list[SsdDetection]:
    """One weighted NMS over the candidates of several regions (or models), best first."""
    scores = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0)
    if not parts or len(scores) == 0:
        return []
    corners = np.concatenate([p[1] for p in parts])
    keypoints = np.concatenate([p[2] for p in parts])
    return [SsdDetection(score, np.array([box[0], box[1], box[2] - box[0], box[3] - box[1]]), kps)
            for score, box, kps in weighted_nms(corners, scores, keypoints, iou_threshold)]
