"""Face detector: MediaPipe ``face_detection_short_range`` on a head search region, giving mesh crops.

Used when the face mesh finds no face in the head crop built from body landmarks (e.g. the
body's eyes landed on a helmet): the short-range BlazeFace model looks in a larger region
around the head.  Input 128 x 128 RGB in [-1, 1]; 896 SSD rows (strides 8, 16, 16, 16): a
face box and 6 keypoints (0 right eye, 1 left eye, 2 nose tip, 3 mouth, 4-5 ear tragions).
Each face becomes MediaPipe's face-mesh ROI: eyes level, side 1.5 x the longer box side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wholebody.experts.crops import FACE_MESH_INPUT_SIZE as MESH_INPUT_SIZE
from wholebody.experts.crops import SquareCrop, angle_for_up
from wholebody.experts.detect.ssd import decode_ssd, ssd_anchors, weighted_nms
from wholebody.experts.runtime.tflite import TFLiteModel

INPUT_SIZE = 128
STRIDES = (8, 16, 16, 16)
ROI_SCALE = 1.5
RIGHT_EYE, LEFT_EYE = 0, 1


@dataclass
class FaceDetection:
    """One face in original pixels: ``score``, ``keypoints`` (6, 2) and the mesh ``crop`` it implies."""

    score: float
    keypoints: np.ndarray
    crop: SquareCrop


class FaceDetector:
    """``detector(image, region) -> list[FaceDetection]`` for faces inside a square search region."""

    def __init__(self, num_threads: int = 1, score_threshold: float = 0.5, iou_threshold: float = 0.3) -> None:
        self.model = TFLiteModel("face_detection_short_range", num_threads=num_threads)
        self.anchors = ssd_anchors(INPUT_SIZE, STRIDES)
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold

    def __call__(self, image: np.ndarray, region: SquareCrop) -> list[FaceDetection]:
        """Faces in ``region`` (resampled to 128 px) of an RGB uint8 image, best first."""
        region = SquareCrop(region.center, region.side, region.angle, INPUT_SIZE)
        pixels = region.extract(image).astype(np.float32) / 127.5 - 1.0
        # Outputs are named 'classificators' and 'regressors': tell them apart by width.
        raw, logits = sorted(self.model(pixels[None]), key=lambda t: -t.shape[-1])
        scores, corners, keypoints = decode_ssd(raw, logits, self.anchors, INPUT_SIZE, self.score_threshold)
        faces = []
        for score, box, kps in weighted_nms(corners, scores, keypoints, self.iou_threshold):
            kps_px = region.to_image(kps * INPUT_SIZE)
            eye_axis = kps_px[LEFT_EYE] - kps_px[RIGHT_EYE]
            angle = angle_for_up(np.array([eye_axis[1], -eye_axis[0]]))
            centre = region.to_image(((box[:2] + box[2:]) / 2.0) * INPUT_SIZE)
            side = ROI_SCALE * float(max(box[2] - box[0], box[3] - box[1])) * region.side
            crop = SquareCrop((float(centre[0]), float(centre[1])), side, angle, MESH_INPUT_SIZE)
            faces.append(FaceDetection(score=score, keypoints=kps_px, crop=crop))
        return faces
