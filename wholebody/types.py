"""Result types shared by every estimator (part experts, ZoomNet, DOPE) and the writers.

Coordinate conventions, used everywhere in the project:
* 2D: pixels of the *original* image, x right, y down, origin at the top-left corner of the
  top-left pixel (COCO convention).  Boxes are COCO ``[x, y, w, h]`` in the same pixels.
* 3D: metres.  ``Person.keypoints_3d["body"]`` is root-relative (root = mid-point of the two
  hips), camera-aligned axes: x right, y down, z away from the camera.  Hands are relative to
  their wrist, the face to its centroid, same axes; each estimator documents its scale source.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from wholebody.schema import PART_SLICES, PARTS

# Images narrower or lower than this (pixels) hold no person: every estimator returns 0 people
# for them, as ``predict`` does, instead of each model failing in its own way (the part experts'
# crops, the detectors' resizing and DOPE's feature pyramid all need at least 2 pixels a side).
MIN_IMAGE_SIDE = 2


def too_small_for_people(image: np.ndarray) -> bool:
    """True for an (H, W, ...) image under :data:`MIN_IMAGE_SIDE` pixels on a side."""
    return min(np.shape(image)[:2]) < MIN_IMAGE_SIDE


@dataclass
class Person:
    """One whole-body person.

    Attributes:
        keypoints: (133, 3) float array: x, y (original pixels), score in [0, 1].  A point no
            model observed has score 0.
        score: instance score in [0, 1] (ranking key of the COCO results ``score``).
        part_scores: per part of ``schema.PARTS``, a score in [0, 1].
        bbox: person box ``[x, y, w, h]`` in original pixels.
        part_boxes: ``face`` / ``lefthand`` / ``righthand`` -> box ``[x, y, w, h]`` or None when
            that part was not found (written with ``*_valid = False``).
        keypoints_3d: part -> (n_part_points, 3) metres in that part's frame (module docstring),
            or None.  Body covers the 23 body+foot points.
        track_id: stable identity across video frames, None for still images.
        box_score: score of the person box the estimator started from (detector or given
            boxes), None when the estimator has no person boxes (DOPE).
    """

    keypoints: np.ndarray
    score: float
    part_scores: dict[str, float] = field(default_factory=dict)
    bbox: np.ndarray | None = None
    part_boxes: dict[str, np.ndarray | None] = field(default_factory=dict)
    keypoints_3d: dict[str, np.ndarray | None] = field(default_factory=dict)
    track_id: int | None = None
    box_score: float | None = None

    def __post_init__(self) -> None:
        self.keypoints = np.asarray(self.keypoints, dtype=np.float64)
        if self.keypoints.shape != (133, 3):
            raise ValueError(f"Person.keypoints must be (133, 3), got {self.keypoints.shape}")
        if not np.isfinite(self.keypoints).all():
            raise ValueError("Person.keypoints contains NaN or inf")

    def part(self, name: str) -> np.ndarray:
        """The (n, 3) keypoints of one part of ``schema.PARTS``."""
        return self.keypoints[PART_SLICES[name]]

    def fill_part_scores(self) -> None:
        """Set missing part scores to the mean keypoint score of that part."""
        for p in PARTS:
            self.part_scores.setdefault(p, float(self.part(p)[:, 2].mean()))
