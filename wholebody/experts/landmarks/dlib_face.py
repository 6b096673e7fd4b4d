"""Alternative face expert: dlib's 68-point shape predictor (iBUG 300-W layout) on head crops.

Needs ``dlib-bin==20.0.1.post1`` and ``face-recognition-models==0.3.0`` (which ships
``shape_predictor_68_face_landmarks.dat``; located with importlib, never downloaded).  The
head crop (upright, resampled to ``CROP_SIZE`` px) goes through dlib's HOG frontal-face
detector; the predictor then runs on the detected box nearest the crop centre, or, when HOG
finds nothing, on the box a centred face of ``1 / head side factor`` of the crop would have.
Measured against the face mesh in the experts README section (the mesh is the default).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wholebody.experts.crops import SquareCrop

CROP_SIZE = 256
MODEL_FILE = "shape_predictor_68_face_landmarks.dat"
INSTALL_HINT = "pip install dlib-bin==20.0.1.post1 face-recognition-models==0.3.0"


def predictor_path() -> Path:
    """The 68-point model inside the installed ``face_recognition_models`` package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"face='dlib' needs face-recognition-models: {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall face-recognition-models==0.3.0")
    return path


@dataclass
class DlibFace:
    """68 iBUG points in original pixels and a presence proxy (1 HOG found the face, else 0.3)."""

    points: np.ndarray
    presence: float
    crop: SquareCrop

    def ibug68(self) -> np.ndarray:
        return self.points

    def box(self, margin: float = 0.0) -> np.ndarray:
        lo, hi = self.points.min(axis=0), self.points.max(axis=0)
        pad = (hi - lo) * margin
        return np.concatenate([lo - pad, hi - lo + 2 * pad])

    def metric_68(self) -> None:
        """dlib gives no 3D."""
        return None


class DlibFaceExpert:
    """``expert(image, head_crop) -> DlibFace``; same call shape as ``FaceExpert``."""

    def __init__(self, head_side_factor: float = 2.2) -> None:
        try:
            import dlib
        except ImportError as err:
            raise ModuleNotFoundError(f"face='dlib' needs dlib: {INSTALL_HINT}") from err
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(predictor_path()))
        self.head_side_factor = head_side_factor

    def __call__(self, image: np.ndarray, crop: SquareCrop, **_ignored) -> DlibFace:
        """68 points of the face in ``crop`` (an (H, W, 3) uint8 RGB image)."""
        crop = SquareCrop(crop.center, crop.side, crop.angle, CROP_SIZE)
        pixels = np.ascontiguousarray(crop.extract(image))
        found = list(self._detector(pixels, 1))
        half = CROP_SIZE / self.head_side_factor / 2.0
        centre = CROP_SIZE / 2.0
        if found:
            rect = min(found, key=lambda r: np.hypot(r.center().x - centre, r.center().y - centre))
        else:
            rect = self._dlib.rectangle(int(centre - half), int(centre - half), int(centre + half), int(centre + half))
        shape = self._predictor(pixels, rect)
        # dlib's points are integer pixel indices (pixel centres): +0.5 for corner coordinates.
        local = np.array([[p.x + 0.5, p.y + 0.5] for p in shape.parts()], dtype=np.float64)
        return DlibFace(points=crop.to_image(local), presence=1.0 if found else 0.3, crop=crop)
