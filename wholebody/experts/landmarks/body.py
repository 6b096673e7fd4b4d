"""Body expert: MediaPipe ``pose_landmark_full`` (BlazePose GHUM, 33 landmarks) on person crops.

The model sees a 256 x 256 square crop (RGB in [0, 1]) around one person and returns 39
landmarks (33 named + 6 auxiliary) as x, y, z in crop pixels with visibility and presence
logits, a pose-present probability, and 39 world landmarks in metres (hip-centred, crop
axes).  Auxiliary landmark 33 is the body centre and 34 a point on the body-enclosing circle
above it; MediaPipe tracks with them, and so do we for an optional second, re-centred and
rotation-aligned pass.

That second pass can use the *heavy* model instead (``BodyExpert(refine_model=...)``, see
``heavy_pose``): the full model only has to place the tracking ROI, the heavy one gives the
landmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wholebody.experts.crops import SquareCrop, angle_for_up, crop_from_box
from wholebody.experts.runtime.tflite import TFLiteModel, sigmoid
from wholebody.schema import MEDIAPIPE_POSE33

INPUT_SIZE = 256
NUM_NAMED = 33
# MediaPipe's pose ROI: a square of side 2 x 1.25 x |aux34 - aux33| centred on aux33.
ROI_SCALE_FROM_AUX = 2.5
# Indices of the 23 body+foot points of the 133 layout filled from the 33 landmarks.
BODY_FOOT_133 = np.arange(23)


@dataclass
class BodyLandmarks:
    """One person's BlazePose output, mapped to original pixels.

    Attributes:
        points: (33, 2) landmarks in original pixels.
        visibility: (33,) probability that the point is visible (not occluded), in [0, 1].
        presence: (33,) probability that the point lies inside the crop, in [0, 1].
        world: (33, 3) metres, origin between the hips, image axes (x right, y down, z away).
        score: pose-present probability of the crop, in [0, 1].
        crop: the crop the model saw.
        aux: (2, 2) auxiliary centre and circle points in original pixels (for re-cropping).
    """

    points: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    world: np.ndarray
    score: float
    crop: SquareCrop
    aux: np.ndarray

    def keypoint_scores(self) -> np.ndarray:
        """(33,) per-landmark confidence: visibility times presence."""
        return self.visibility * self.presence

    def refined_crop(self) -> SquareCrop:
        """MediaPipe's tracking ROI from the auxiliary points: centred, sized and rotated on the body."""
        centre, top = self.aux
        radius = float(np.hypot(*(top - centre)))
        return SquareCrop(
            center=(float(centre[0]), float(centre[1])),
            side=max(ROI_SCALE_FROM_AUX * radius, 1.0),
            angle=angle_for_up(top - centre),
            size=INPUT_SIZE,
        )


class BodyExpert:
    """Runs ``pose_landmark_full`` on person crops, optionally a second model on the tracking ROI.

    Args:
        num_threads: interpreter threads.
        box_scale: crop side as a multiple of the person box's longer side.
        refine: run a second pass on the ROI the first pass predicts (MediaPipe's tracking ROI).
        refine_model: callable for that second pass, ``(1, 256, 256, 3) float32 -> [landmarks
            (1, 195), pose flag (1, 1), world (1, 117)]`` (e.g. ``heavy_pose.HeavyPoseModel``);
            None runs ``pose_landmark_full`` again.
    """

    def __init__(self, num_threads: int = 1, box_scale: float = 1.25, refine: bool = True,
                 refine_model=None) -> None:
        self.model = _FullPoseModel(num_threads)
        self.refine_model = refine_model or self.model
        self.box_scale = box_scale
        self.refine = refine

    def run_crop(self, image: np.ndarray, crop: SquareCrop, model=None) -> BodyLandmarks:
        """Landmarks of the person in one crop of an (H, W, 3) uint8 RGB image (``model``: default the first-pass one)."""
        pixels = crop.extract(image).astype(np.float32) / 255.0
        raw, flag, world = (model or self.model)(pixels[None])
        lm = raw.reshape(-1, 5)
        world_xyz = crop.rotate_vectors_to_image(world.reshape(-1, 3)[:NUM_NAMED])
        return BodyLandmarks(
            points=crop.to_image(lm[:NUM_NAMED, :2]),
            visibility=sigmoid(lm[:NUM_NAMED, 3]),
            presence=sigmoid(lm[:NUM_NAMED, 4]),
            world=world_xyz,
            score=float(np.clip(flag.reshape(-1)[0], 0.0, 1.0)),
            crop=crop,
            aux=crop.to_image(lm[NUM_NAMED : NUM_NAMED + 2, :2]),
        )

    def __call__(self, image: np.ndarray, box_xywh: np.ndarray, angle: float = 0.0) -> BodyLandmarks:
        """Landmarks of the person in ``box_xywh`` (original pixels); ``angle`` tilts the first crop."""
        first = self.run_crop(image, crop_from_box(box_xywh, self.box_scale, INPUT_SIZE, angle))
        if not self.refine or first.score < 0.5:
            return first
        second = self.run_crop(image, first.refined_crop(), self.refine_model)
        return second if second.score >= first.score * 0.8 else first


class _FullPoseModel:
    """``pose_landmark_full`` returning [landmarks, pose flag, world] like ``HeavyPoseModel``.

    The TFLite model also returns segmentation and heat-map tensors, which are not used.
    """

    def __init__(self, num_threads: int) -> None:
        self.tflite = TFLiteModel("pose_landmark_full", num_threads=num_threads)

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        landmarks, flag, _segmentation, _heatmap, world = self.tflite(batch)
        return [landmarks, flag, world]


def body_to_wholebody(body: BodyLandmarks) -> tuple[np.ndarray, np.ndarray]:
    """The 23 body+foot points of the 133 layout: ((23, 3) x, y, score) and (23, 3) world metres.

    Small toes have no BlazePose landmark: they get the big-toe position with score 0.
    """
    pts = np.concatenate([body.points, body.keypoint_scores()[:, None]], axis=1)
    wb = np.zeros((133, 3))
    wb3 = np.zeros((133, 3))
    index = MEDIAPIPE_POSE33.to_wholebody
    own = np.flatnonzero(index >= 0)
    wb[index[own]] = pts[own]
    wb3[index[own]] = body.world[own]
    for small, big in ((18, 17), (21, 20)):
        wb[small, :2] = wb[big, :2]
        wb[small, 2] = 0.0
        wb3[small] = wb3[big]
    return wb[:23], wb3[:23]
