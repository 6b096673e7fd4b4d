"""Body point scores that say whether a point was seen: caps for points outside the image and hidden hips.

BlazePose's per-point visibility is informative for limbs, but two things make its scores
claim points that are not there (issue 13: the waist-up astronaut's hips drawn on the chest
with score 1.0):

* its presence means "inside the crop", and a crop runs past the image border, so a point
  placed outside the image can score 1; ``OUTSIDE_CAP`` caps the score of any point outside the
  image (nothing there was seen);
* the hips are BlazePose's root: their visibility is ~1.0 on every person, waist-up or not
  (measured: 0.97-1.0 on ``ultralytics_zidane.jpg`` and the skimage astronaut, whose hips are
  out of the frame).  A hip is hidden when its knee is: a waist-up framing, a table, or water
  hide both.  So a hip's score is capped by its own side's knee score (after fusion with the
  detector's points, so MoveNet's COCO-trained knee score counts).  Measured on the astronaut:
  hip score 1.0 -> below 0.1.

Scores are in [0, 1]; coordinates are not changed.
"""

from __future__ import annotations

import numpy as np

OUTSIDE_CAP = 0.1
HIPS_KNEES = ((11, 13), (12, 14))  # COCO (left hip, left knee), (right hip, right knee)
BODY_FOOT = 23  # the body and foot points of the 133 layout


def cap_unseen_scores(keypoints: np.ndarray, image_shape: tuple[int, ...]) -> np.ndarray:
    """Cap the body and foot scores (first 23 rows) of a (133, 3) array in place; returns it.

    Args:
        keypoints: (133, 3) x, y in original pixels, score.
        image_shape: (H, W, ...) of the image the points lie in.
    """
    h, w = image_shape[:2]
    points = keypoints[:BODY_FOOT]
    outside = (points[:, 0] < 0) | (points[:, 1] < 0) | (points[:, 0] >= w) | (points[:, 1] >= h)
    points[outside, 2] = np.minimum(points[outside, 2], OUTSIDE_CAP)
    for hip, knee in HIPS_KNEES:
        points[hip, 2] = min(points[hip, 2], points[knee, 2])
    return keypoints


def body_part_scores(keypoints: np.ndarray, presence: float) -> dict[str, float]:
    """The body and foot part scores from the (capped) points, as ``assemble.person.body_person`` defines them:
    pose-present probability x mean point score."""
    return {"body": presence * float(keypoints[:17, 2].mean()),
            "foot": presence * float(keypoints[[17, 19, 20, 22], 2].mean())}
