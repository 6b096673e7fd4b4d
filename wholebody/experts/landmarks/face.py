"""Face expert: MediaPipe ``face_landmark`` (468-point 3D mesh) on head crops from the body.

No face detector is run: the head crop comes from the body's nose, eyes, ears and mouth
corners (BlazePose landmarks), sized to at least half the shoulder width because eyes and
ears crowd together on a turned or small head.  The model's input is 192 x 192 RGB in
[0, 1]; it returns 468 x (x, y, z) in crop pixels (z in the same pixel scale, smaller =
nearer) and a face-presence logit.  A second pass re-crops on the first mesh, the way
MediaPipe tracks a face: box of the mesh x 1.5, turned so the eye corners are level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wholebody.experts.crops import FACE_MESH_INPUT_SIZE, SquareCrop, angle_for_up
from wholebody.experts.runtime.tflite import TFLiteModel, sigmoid
from wholebody.schema import facemesh_to_ibug68

INPUT_SIZE = FACE_MESH_INPUT_SIZE
# MediaPipe's face ROI is the landmark box grown 1.5x (face_landmark tracking ROI).
MESH_ROI_SCALE = 1.5
# Mesh vertices at the outer eye corners: subject's right (33) and left (263).
RIGHT_EYE_CORNER, LEFT_EYE_CORNER = 33, 263


@dataclass
class FaceLandmarks:
    """One face mesh, mapped to original pixels.

    Attributes:
        mesh: (468, 3) x, y in original pixels, z in original pixels (relative depth, smaller = nearer).
        presence: face-presence probability, in [0, 1].
        crop: the crop the model saw.
    """

    mesh: np.ndarray
    presence: float
    crop: SquareCrop

    def ibug68(self) -> np.ndarray:
        """(68, 2) iBUG/300-W points in original pixels."""
        return facemesh_to_ibug68(self.mesh[:, :2])

    def metric_68(self, eye_distance_m: float = 0.063) -> np.ndarray:
        """(68, 3) metres relative to the face centroid, image axes, scaled by a mean interocular distance.

        The mesh is weak-perspective (pixels); ``eye_distance_m`` (adult mean pupil distance)
        sets the scale, so the face 3D is metric only up to the true size of this face.
        """
        pts = facemesh_to_ibug68(self.mesh)
        left, right = self.mesh[LEFT_EYE_CORNER], self.mesh[RIGHT_EYE_CORNER]
        # Outer eye corners are ~1.45x the pupil distance apart on an adult face.
        pixel_per_m = max(float(np.linalg.norm(left - right)), 1e-6) / (1.45 * eye_distance_m)
        return (pts - pts.mean(axis=0)) / pixel_per_m

    def box(self, margin: float = 0.0) -> np.ndarray:
        """``[x, y, w, h]`` of the 68 points, grown by ``margin`` of the size on each side."""
        pts = self.ibug68()
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        pad = (hi - lo) * margin
        return np.concatenate([lo - pad, hi - lo + 2 * pad])

    def tracking_crop(self) -> SquareCrop:
        """MediaPipe's tracking ROI: the mesh box in eye-level axes, grown 1.5x."""
        eye_axis = self.mesh[LEFT_EYE_CORNER, :2] - self.mesh[RIGHT_EYE_CORNER, :2]
        angle = angle_for_up(np.array([eye_axis[1], -eye_axis[0]]))
        c, s = np.cos(angle), np.sin(angle)
        axes = np.array([[c, -s], [s, c]])
        local = self.mesh[:, :2] @ axes  # coordinates along the rotated crop axes
        lo, hi = local.min(axis=0), local.max(axis=0)
        centre = axes @ ((lo + hi) / 2.0)
        side = float(max(hi - lo)) * MESH_ROI_SCALE
        return SquareCrop(center=(float(centre[0]), float(centre[1])), side=max(side, 4.0), angle=angle, size=INPUT_SIZE)


def head_crop(head_points: np.ndarray, valid: np.ndarray, shoulder_width: float, eye_axis: np.ndarray | None,
              side_factor: float = 2.2) -> SquareCrop | None:
    """Square crop around a head from body landmarks (original pixels).

    Args:
        head_points: (N, 2) nose, eyes, ears, mouth corners.
        valid: (N,) which of them to trust.
        shoulder_width: |left - right shoulder| in pixels (0 if unknown); the head is at least half of it.
        eye_axis: subject's right eye -> left eye vector, sets the roll; None for upright.
        side_factor: crop side as a multiple of the head extent.
    """
    pts = np.asarray(head_points, dtype=np.float64)[np.asarray(valid, dtype=bool)]
    if len(pts) == 0:
        return None
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    extent = max(float(max(hi - lo)), 0.5 * shoulder_width, 4.0)
    centre = (lo + hi) / 2.0
    angle = 0.0
    if eye_axis is not None and np.hypot(*eye_axis) > 0:
        angle = angle_for_up(np.array([eye_axis[1], -eye_axis[0]]))
    return SquareCrop(center=(float(centre[0]), float(centre[1])), side=side_factor * extent, angle=angle, size=INPUT_SIZE)


class FaceExpert:
    """Runs ``face_landmark`` on head crops.

    Args:
        num_threads: interpreter threads.
        refine_passes: MediaPipe-style re-crops on the mesh itself.
        detector_fallback: when the mesh finds no face (presence < 0.5), look for one with the
            short-range face detector in a region ``SEARCH_SCALE`` x the head crop and retry there.
    """

    SEARCH_SCALE = 1.5

    def __init__(self, num_threads: int = 1, refine_passes: int = 1, detector_fallback: bool = True) -> None:
        self.model = TFLiteModel("face_landmark", num_threads=num_threads)
        self.refine_passes = refine_passes
        self.detector = None
        if detector_fallback:
            from wholebody.experts.detect.face_detector import FaceDetector

            self.detector = FaceDetector(num_threads=num_threads)

    def run_crop(self, image: np.ndarray, crop: SquareCrop) -> FaceLandmarks:
        """The mesh of the face in one crop of an (H, W, 3) uint8 RGB image."""
        pixels = crop.extract(image).astype(np.float32) / 255.0
        raw, logit = self.model(pixels[None])
        mesh = raw.reshape(468, 3).astype(np.float64)
        xy = crop.to_image(mesh[:, :2])
        z = mesh[:, 2:3] * crop.scale
        return FaceLandmarks(mesh=np.concatenate([xy, z], axis=1), presence=float(sigmoid(logit.reshape(-1)[0])), crop=crop)

    def _tracked(self, image: np.ndarray, crop: SquareCrop) -> FaceLandmarks:
        """Mesh from ``crop``, then ``refine_passes`` re-crops on the mesh itself."""
        face = self.run_crop(image, crop)
        for _ in range(self.refine_passes):
            if face.presence < 0.5:
                break
            again = self.run_crop(image, face.tracking_crop())
            if again.presence < face.presence * 0.8:
                break
            face = again
        return face

    def __call__(self, image: np.ndarray, crop: SquareCrop, own_head: np.ndarray | None = None,
                 other_heads: np.ndarray | None = None) -> FaceLandmarks:
        """The face in a head crop (original-pixel mesh), with the detector fallback if enabled.

        Args:
            image: (H, W, 3) uint8 RGB.
            crop: the head crop.
            own_head: (2,) this person's head point; with ``other_heads`` ((K, 2) head points of the
                other people) it keeps the fallback off neighbours' faces: a detected face counts
                only if it is nearer to ``own_head`` than to every other head.
        """
        face = self._tracked(image, crop)
        if face.presence >= 0.5 or self.detector is None:
            return face
        region = SquareCrop(crop.center, crop.side * self.SEARCH_SCALE, 0.0, crop.size)
        detections = self.detector(image, region)
        if own_head is not None and other_heads is not None and len(other_heads):
            detections = [d for d in detections if _nearest_is_own(np.asarray(d.crop.center), own_head, other_heads)]
        if not detections:
            return face
        best = max(detections, key=lambda d: d.score)
        again = self._tracked(image, best.crop)
        return again if again.presence > face.presence else face


def _nearest_is_own(point: np.ndarray, own: np.ndarray, others: np.ndarray) -> bool:
    """Whether ``point`` is nearer to ``own`` than to every row of ``others`` (all original pixels)."""
    own_distance = float(np.hypot(*(point - np.asarray(own)[:2])))
    return bool(own_distance <= np.hypot(*(np.asarray(others)[:, :2] - point).T).min())
