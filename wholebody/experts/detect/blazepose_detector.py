"""Fallback person detector: MediaPipe's ``pose_detection.tflite`` (BlazePose detector), multi-person.

MediaPipe runs this detector only to start single-person tracking; here every detection is
kept.  It is face/upper-body anchored and trained on a whole image letterboxed to 224 px, so
it misses small and occluded people (4 of 12 labelled people on the COCO-WholeBody fixtures):
it is the fallback when no better person detector is available.

Decoding (MediaPipe's SSD settings for this model): 2254 anchors from strides 8, 16, 32, 32,
32 with 2 anchors per cell per layer (layers of equal stride merged), fixed anchor size,
centres at (i + 0.5) / grid.  Each row is box centre offset, width, height, then 4 keypoints
(x, y), all in 224-px input units relative to the anchor centre.  Keypoint 0 is the mid-hip,
1 a point on the circle that encloses the body, 2 the mid-shoulder, 3 a point on the
upper-body circle.
"""

from __future__ import annotations

import numpy as np

from wholebody.experts.crops import SquareCrop
from wholebody.experts.detect.detections import Detections
from wholebody.experts.detect.ssd import decode_ssd, ssd_anchors, weighted_nms
from wholebody.experts.runtime.tflite import TFLiteModel

INPUT_SIZE = 224
STRIDES = (8, 16, 32, 32, 32)


class BlazePoseDetector:
    """Multi-person BlazePose detector: ``detector(image) -> Detections``.

    Boxes are the square body circle around the mid-hip (side 2 x radius); ``keypoints`` are
    (N, 4, 2): mid-hip, body-circle point, mid-shoulder, upper-body-circle point.
    """

    def __init__(self, num_threads: int = 1, score_threshold: float = 0.5, iou_threshold: float = 0.3) -> None:
        self.model = TFLiteModel("pose_detection", num_threads=num_threads)
        self.anchors = ssd_anchors(INPUT_SIZE, STRIDES)
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold

    def __call__(self, image: np.ndarray) -> Detections:
        """Detect people in an (H, W, 3) uint8 RGB image."""
        h, w = image.shape[:2]
        letterbox = SquareCrop(center=(w / 2.0, h / 2.0), side=float(max(h, w)), angle=0.0, size=INPUT_SIZE)
        pixels = letterbox.extract(image).astype(np.float32) / 127.5 - 1.0
        raw, logits = self.model(pixels[None])
        scores, corners, keypoints = decode_ssd(raw, logits, self.anchors, INPUT_SIZE, self.score_threshold)
        if len(scores) == 0:
            return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 4, 2)))
        boxes, out_scores, out_kps = [], [], []
        for score, _, kps in weighted_nms(corners, scores, keypoints, self.iou_threshold):
            kps_px = letterbox.to_image(kps * INPUT_SIZE)
            radius = float(np.hypot(*(kps_px[1] - kps_px[0])))
            boxes.append([kps_px[0, 0] - radius, kps_px[0, 1] - radius, 2 * radius, 2 * radius])
            out_scores.append(score)
            out_kps.append(kps_px)
        return Detections(np.array(boxes), np.array(out_scores), np.array(out_kps))
