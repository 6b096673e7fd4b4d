"""Whole-image palm detection (MediaPipe's ``palm_detection_full`` / ``_lite``) and the hand ROI.

Both bundled palm models take 192 x 192 RGB in [0, 1] and give 2016 SSD rows (strides 8, 16,
16, 16; 2 anchors per cell) of 18 values: a palm box and 7 keypoints (0 wrist centre, 1-4 the
index, middle, ring and pinky knuckles, 5-6 thumb base and knuckle), and a score logit;
MediaPipe keeps scores >= 0.5 and merges at IoU 0.3.  A palm is a rigid, nearly square
object, which is why MediaPipe finds hands by it rather than by the whole hand.

The hand ROI is MediaPipe's (``palm_detection_detection_to_roi``): rotated so the wrist ->
middle-knuckle direction points up, the box centre moved half a box height towards the
fingers, side 2.6 x the box's longer side.  The landmark model runs on that ``SquareCrop``,
whose affine maps its points back to original pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wholebody.experts.crops import SquareCrop, angle_for_up
from wholebody.experts.detect.ssd_detector import SsdDetector, merge_candidates

HAND_INPUT_SIZE = 224  # hand_landmark_full / _lite input side
WRIST, MIDDLE_KNUCKLE = 0, 2
ROI_SCALE = 2.6
ROI_SHIFT = 0.5  # box heights towards the fingers


@dataclass
class DetectedPalm:
    """One palm in original pixels: ``score`` in [0, 1], ``box`` ``[x, y, w, h]``,
    ``keypoints`` (7, 2) and the hand-landmark ``crop`` (MediaPipe's hand ROI)."""

    score: float
    box: np.ndarray
    keypoints: np.ndarray
    crop: SquareCrop


def hand_roi(box: np.ndarray, keypoints: np.ndarray) -> SquareCrop:
    """MediaPipe's palm -> hand ROI (module docstring), original pixels."""
    up = keypoints[MIDDLE_KNUCKLE] - keypoints[WRIST]
    norm = float(np.hypot(*up))
    up = up / norm if norm > 0 else np.array([0.0, -1.0])
    centre = box[:2] + box[2:] / 2.0 + ROI_SHIFT * float(box[3]) * up
    side = max(ROI_SCALE * float(max(box[2], box[3])), 4.0)
    return SquareCrop((float(centre[0]), float(centre[1])), side, angle_for_up(up), HAND_INPUT_SIZE)


class PalmDetector:
    """``detector(image) -> list[DetectedPalm]``, best first.

    Args:
        model: ``"full"`` or ``"lite"``.
        tiles: by default also run on overlapping tiles (small hands in large images); each
            call may say otherwise.
        score_threshold: minimum palm score (MediaPipe: 0.5).
        num_threads: interpreter threads.
    """

    def __init__(self, model: str = "full", tiles: bool = False, score_threshold: float = 0.5,
                 num_threads: int = 1) -> None:
        if model not in ("full", "lite"):
            raise ValueError(f"palm model must be 'full' or 'lite', got {model!r}")
        self.detector = SsdDetector(f"palm_detection_{model}", (8, 16, 16, 16), 2, (0.0, 1.0), score_threshold,
                                    0.3, tiles=tiles, num_threads=num_threads)

    def __call__(self, image: np.ndarray, tiles: bool | None = None) -> list[DetectedPalm]:
        """Palms in an (H, W, 3) uint8 RGB image, best first, original pixels (``tiles``: None
        for the detector's default)."""
        return [DetectedPalm(d.score, d.box, d.keypoints, hand_roi(d.box, d.keypoints))
                for d in self.detector(image, tiles)]


class RegionPalmDetector:
    """The palm detector on one upright square region of the image (around a wrist).

    A hand that is small in the whole image (a 640 px photo letterboxed into 192 px) is too
    small for the palm detector; the same hand in a region of about two body scales around
    its wrist fills enough of the 192 px input.  The region may reach past the image border
    (``SquareCrop.extract`` pads it); the palms come back in original pixels.

    Args:
        detector: a ``PalmDetector`` whose model is reused (no second interpreter).
    """

    def __init__(self, detector: PalmDetector) -> None:
        self.detector = detector.detector

    def __call__(self, image: np.ndarray, centre: np.ndarray, side: float) -> list[DetectedPalm]:
        """Palms inside the square of ``side`` pixels centred on ``centre`` (x, y), best first."""
        if not (np.all(np.isfinite(centre)) and np.isfinite(side) and side >= 8.0):
            return []
        region = SquareCrop((float(centre[0]), float(centre[1])), float(side), 0.0, self.detector.size)
        found = merge_candidates([self.detector.candidates(image, region)], self.detector.iou_threshold)
        return [DetectedPalm(d.score, d.box, d.keypoints, hand_roi(d.box, d.keypoints)) for d in found]
