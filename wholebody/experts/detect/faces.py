"""Whole-image face detection: MediaPipe 0.10.14's two bundled BlazeFace models, merged.

* ``face_detection_short_range``: 128 x 128 input in [-1, 1], 896 anchors (strides 8, 16, 16,
  16; 2 per cell), made for faces filling much of the frame; MediaPipe's score threshold 0.5.
* ``face_detection_full_range_sparse``: 192 x 192 input in [-1, 1], 2304 anchors (one per cell
  of a 48 x 48 grid, stride 4), for smaller and farther faces; MediaPipe's threshold 0.6.
Both give a box and 6 keypoints (0 right eye, 1 left eye, 2 nose tip, 3 mouth centre, 4 right
and 5 left ear tragion; "right" is the subject's).  Candidates of both models (and of the tiles,
when on) go through one weighted NMS.  Each face also gets MediaPipe's face-mesh ROI (eyes level,
side 1.5 x the box's longer side), the crop the mesh runs on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wholebody.experts.crops import FACE_MESH_INPUT_SIZE as MESH_INPUT_SIZE
from wholebody.experts.crops import SquareCrop, angle_for_up
from wholebody.experts.detect.ssd_detector import SsdDetector, merge_candidates

MESH_ROI_SCALE = 1.5
RIGHT_EYE, LEFT_EYE = 0, 1
NMS_IOU = 0.3


@dataclass
class DetectedFace:
    """One face in original pixels.

    Attributes:
        score: detector confidence in [0, 1].
        box: ``[x, y, w, h]`` face box (forehead to chin, roughly ear to ear).
        keypoints: (6, 2) eyes, nose tip, mouth, ear tragions.
        crop: MediaPipe's face-mesh ROI for this face.
    """

    score: float
    box: np.ndarray
    keypoints: np.ndarray
    crop: SquareCrop


def mesh_roi(box: np.ndarray, keypoints: np.ndarray) -> SquareCrop:
    """MediaPipe's detection-to-mesh ROI: box centre, side 1.5 x longer box side, eyes level."""
    eye_axis = keypoints[LEFT_EYE] - keypoints[RIGHT_EYE]
    angle = angle_for_up(np.array([eye_axis[1], -eye_axis[0]]))
    centre = box[:2] + box[2:] / 2.0
    side = max(MESH_ROI_SCALE * float(max(box[2], box[3])), 4.0)
    return SquareCrop((float(centre[0]), float(centre[1])), side, angle, MESH_INPUT_SIZE)


class WholeImageFaceDetector:
    """``detector(image) -> list[DetectedFace]``, best first, from both BlazeFace models.

    Args:
        models: any of ``"short"`` and ``"full"`` (the sparse full-range model).
        tiles: by default also run the full-range model on overlapping tiles (small faces in
            large images); each call may say otherwise.
        num_threads: interpreter threads.
    """

    def __init__(self, models: tuple[str, ...] = ("short", "full"), tiles: bool = False, num_threads: int = 1) -> None:
        self.detectors = []
        self.tiles = tiles
        if "short" in models:
            self.detectors.append(SsdDetector("face_detection_short_range", (8, 16, 16, 16), 2, (-1.0, 1.0), 0.5,
                                              NMS_IOU, tiles=False, num_threads=num_threads))
        if "full" in models:
            self.detectors.append(SsdDetector("face_detection_full_range_sparse", (4,), 1, (-1.0, 1.0), 0.6,
                                              NMS_IOU, tiles=True, num_threads=num_threads))
        if not self.detectors:
            raise ValueError(f"models must name 'short' and/or 'full', got {models!r}")

    def __call__(self, image: np.ndarray, tiles: bool | None = None) -> list[DetectedFace]:
        """Faces in an (H, W, 3) uint8 RGB image, best first, original pixels (``tiles``: None
        for the detector's default)."""
        height, width = image.shape[:2]
        tiles = self.tiles if tiles is None else tiles
        # The short-range model is made for large faces: it never runs on tiles.
        parts = [d.candidates(image, region) for d in self.detectors
                 for region in d.regions(height, width, tiles and d.tiles)]
        return [DetectedFace(d.score, d.box, d.keypoints, mesh_roi(d.box, d.keypoints))
                for d in merge_candidates(parts, NMS_IOU)]
