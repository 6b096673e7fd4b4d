"""Hand expert: MediaPipe's hand landmark models on zoomed crops around each body wrist.

The idea of the DOPE paper's hand expert, without a whole-image hand detector: a hand is
small in a person crop, so we cut a square around the wrist, turned so the forearm points up
(the hand model expects fingers up, as MediaPipe's own palm-aligned ROI gives it), and
upscale it to the model's 224 x 224 input.  The model returns 21 landmarks in COCO-WholeBody
hand order (wrist, thumb 1-4, fore, middle, ring, pinky; base to tip), a hand-presence
probability, a handedness probability and 21 world landmarks in metres.

Crop (measured on the 10 labelled fixture hands, mostly gloved fists of 11-31 px): side 1.3
forearm lengths, centre 0.35 forearm past the wrist (grid 0.8-2.0 x 0.2-0.5, with the body
expert of the time; mean hand OKS 0.51 from true wrists and elbows, 0.43 from predicted ones;
21 points collapsed on the best wrist offset: 0.39).  Averaging several shifted crops did not
help (0.43-0.44), nor did MediaPipe's own route of palm detection in a 3.5x crop before the
landmarks (0.41), so neither is used; Holistic's re-crop model is optional (``recrop``; 0.45,
within noise).

Test-time augmentation (the estimator's default): both bundled landmark models (``full`` and
``lite``), each on the crop and on its mirror image, averaged.  Measured with
``benchmarks/hand_tta.py --crops 32`` (3 RHD hands x 32 jittered crops) and on the 10 labelled
COCO-WholeBody fixture hands (mean hand OKS, estimator pipeline):

    hand_model, passes          RHD error (px)   fixture hand OKS   ms per hand (2 cores)
    full                        4.95             0.564              4.9
    full + mirror               4.45             0.570              9.6
    lite                        4.43             0.576              2.5
    lite + mirror               4.19             0.572              5.0
    both (full + lite)          4.46             0.580              7.9
    both + mirror (default)     4.16             0.575              14.3

Every average beats ``full`` alone; among the averages the fixture differences are noise (10
hands).  ``lite + mirror`` matches the default at a third of the cost (the estimator's
``hand_model="lite"``); the default still averages both models because which single model is
better is not settled by 13 hands, and the average of both was never worse than either here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from wholebody.experts.crops import SquareCrop, angle_for_up
from wholebody.experts.runtime.tflite import TFLiteModel

INPUT_SIZE = 224
MIDDLE_BASE = 9  # COCO-WholeBody hand point: middle finger, first joint


@dataclass
class HandLandmarks:
    """One hand, mapped to original pixels.

    Attributes:
        points: (21, 2) landmarks in original pixels, COCO-WholeBody hand order.
        presence: probability that a hand is in the crop, in [0, 1].
        right: probability that it is a right hand (the person's right), in [0, 1].
        world: (21, 3) metres, MediaPipe's hand-centred origin, image axes (x right, y down, z away).
        crop: the crop the model saw.
    """

    points: np.ndarray
    presence: float
    right: float
    world: np.ndarray
    crop: SquareCrop

    @property
    def is_right(self) -> bool:
        return self.right >= 0.5

    def box(self, margin: float = 0.1) -> np.ndarray:
        """``[x, y, w, h]`` around the 21 points, grown by ``margin`` of the size on each side."""
        lo, hi = self.points.min(axis=0), self.points.max(axis=0)
        pad = (hi - lo) * margin
        return np.concatenate([lo - pad, hi - lo + 2 * pad])


def wrist_crop(wrist: np.ndarray, elbow: np.ndarray, side_factor: float, shift: float, min_side: float = 8.0) -> SquareCrop:
    """Square crop around the hand that hangs off ``wrist``, rotated so the forearm points up.

    Args:
        wrist, elbow: (x, y) original pixels.
        side_factor: crop side in forearm lengths |wrist - elbow|.
        shift: the centre lies ``shift`` forearm lengths past the wrist, along the forearm.
        min_side: smallest side in original pixels (a foreshortened forearm can be ~0 long).
    """
    forearm = np.asarray(wrist, dtype=np.float64) - np.asarray(elbow, dtype=np.float64)
    length = float(np.hypot(*forearm))
    centre = np.asarray(wrist, dtype=np.float64) + shift * forearm
    return SquareCrop(
        center=(float(centre[0]), float(centre[1])),
        side=max(side_factor * length, min_side),
        angle=angle_for_up(forearm),
        size=INPUT_SIZE,
    )


def points_crop(points: np.ndarray, side_factor: float = 1.6) -> SquareCrop:
    """Square crop around a hand's known 21 points (COCO-WholeBody hand order, pixels), fingers up.

    For hand datasets whose ground truth gives the hand (RHD, FreiHAND): centred on the points'
    centroid, side ``side_factor`` x their larger extent, turned so the wrist -> middle-finger
    base direction points up, as MediaPipe's palm ROI is.
    """
    points = np.asarray(points, dtype=np.float64)[:, :2]
    centre = points.mean(axis=0)
    extent = float((points.max(axis=0) - points.min(axis=0)).max())
    return SquareCrop((float(centre[0]), float(centre[1])), max(side_factor * extent, 4.0),
                      angle_for_up(points[MIDDLE_BASE] - points[0]), INPUT_SIZE)


class HandExpert:
    """Runs MediaPipe hand landmark models on hand crops, averaged over models and mirroring.

    Args:
        num_threads: threads per model call.
        models: bundled model names (``runtime.tflite.MODEL_FILES``) whose outputs are averaged.
        mirror: also run every model on the mirrored crop and average (flip test).
        recrop: first pass each crop through MediaPipe Holistic's ``hand_recrop`` model
            (256 x 256 input, [0, 1]), which predicts two points on the hand: the ROI centre and a
            point half a side towards the wrist.  The landmark models then see MediaPipe's ROI
            built from them (side 2 x their distance, fingers up, moved 0.1 side towards the
            fingers), which follows a bent wrist better than the forearm direction does.

    The handedness output assumes a mirrored (selfie) image, as MediaPipe documents; its raw
    score is the probability of MediaPipe's label "Left", which on an unmirrored photo is the
    person's right hand (and on our mirrored crop, the person's left).
    """

    RECROP_SIZE = 256
    RECROP_SHIFT = 0.1

    def __init__(self, num_threads: int = 1, models: Sequence[str] = ("hand_landmark_full",),
                 mirror: bool = False, recrop: bool = False) -> None:
        if not models:
            raise ValueError("HandExpert needs at least one landmark model")
        self.models = [TFLiteModel(name, num_threads=num_threads) for name in models]
        self.mirror = mirror
        self.recrop_model = TFLiteModel("hand_recrop", num_threads=num_threads) if recrop else None

    def recrop(self, image: np.ndarray, region: SquareCrop) -> SquareCrop:
        """The hand ROI that ``hand_recrop`` finds inside ``region`` (original pixels)."""
        region = SquareCrop(region.center, region.side, region.angle, self.RECROP_SIZE)
        pixels = region.extract(image).astype(np.float32) / 255.0
        centre, towards_wrist = region.to_image(self.recrop_model(pixels[None])[0].reshape(2, 2))
        half_side = float(np.hypot(*(centre - towards_wrist)))
        up = (centre - towards_wrist) / max(half_side, 1e-6)
        centre = centre + self.RECROP_SHIFT * 2.0 * half_side * up
        return SquareCrop((float(centre[0]), float(centre[1])), max(2.0 * half_side, 4.0), angle_for_up(up), INPUT_SIZE)

    def __call__(self, image: np.ndarray, crop: SquareCrop) -> HandLandmarks:
        """Landmarks of the hand in ``crop`` of an (H, W, 3) uint8 RGB image (re-cropped if enabled)."""
        if self.recrop_model is not None:
            crop = self.recrop(image, crop)
        crop = SquareCrop(crop.center, crop.side, crop.angle, INPUT_SIZE)
        pixels = crop.extract(image).astype(np.float32) / 255.0
        # The mirrored crop is made contiguous once, not once per model (TFLite needs contiguous input).
        flipped = np.ascontiguousarray(pixels[None, :, ::-1]) if self.mirror else None
        passes = [_run(model, pixels, mirrored, flipped) for model in self.models
                  for mirrored in (False, True)[: 1 + self.mirror]]
        landmarks, presence, right, world = (np.mean(values, axis=0) for values in zip(*passes))
        return HandLandmarks(
            points=crop.to_image(landmarks),
            presence=float(presence),
            right=float(right),
            world=crop.rotate_vectors_to_image(world),
            crop=crop,
        )


def _run(model: TFLiteModel, pixels: np.ndarray, mirrored: bool,
         flipped: np.ndarray | None = None) -> tuple[np.ndarray, float, float, np.ndarray]:
    """One pass on a (224, 224, 3) [0, 1] crop, mirrored left-right if asked, read back unmirrored
    (``flipped``: the mirrored (1, 224, 224, 3) batch when the caller made it already).

    Returns (21, 3) landmarks in crop pixels (x, y, relative depth), presence, the probability of
    the person's right hand, and (21, 3) world landmarks in metres along the crop's axes.
    """
    batch = (pixels[None, :, ::-1] if flipped is None else flipped) if mirrored else pixels[None]
    landmarks, presence, handedness, world = model(batch)  # TFLiteModel makes it contiguous
    landmarks, world = landmarks.reshape(21, 3), world.reshape(21, 3)
    right = float(handedness.reshape(-1)[0])
    if mirrored:  # a mirrored left hand looks like a right one: undo x and the side
        landmarks[:, 0] = INPUT_SIZE - landmarks[:, 0]
        world[:, 0] = -world[:, 0]
        right = 1.0 - right
    return landmarks, float(presence.reshape(-1)[0]), right, world
