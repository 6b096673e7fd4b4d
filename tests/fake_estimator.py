"""A stand-in for ``wholebody.experts.WholeBodyEstimator`` used by the predict / video tests.

It finds bright rectangles (any channel > 200) in the image and returns one deterministic
``Person`` per rectangle, with a stick-figure pose laid out inside the rectangle, so tests of
the CLI, tracking and overlays do not depend on the real part experts.  An image with no bright
rectangle gives no person.  Not a test module (no ``test_`` prefix).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from wholebody.types import Person

# Unit-box template for the 17 body points (x, y in [0, 1] of the person box).
_BODY = np.array([
    [0.50, 0.08], [0.54, 0.06], [0.46, 0.06], [0.58, 0.08], [0.42, 0.08], [0.65, 0.22], [0.35, 0.22],
    [0.75, 0.38], [0.25, 0.38], [0.80, 0.52], [0.20, 0.52], [0.60, 0.55], [0.40, 0.55], [0.62, 0.75],
    [0.38, 0.75], [0.62, 0.95], [0.38, 0.95],
])


def template_keypoints() -> np.ndarray:
    """(133, 3) unit-box keypoints: body, feet, a face ring at the head, fans of hand points."""
    points = np.zeros((133, 3))
    points[:17, :2] = _BODY
    points[17:23, :2] = [[0.66, 0.98], [0.70, 0.97], [0.60, 0.97], [0.34, 0.98], [0.30, 0.97], [0.40, 0.97]]
    angles = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    points[23:91, :2] = np.stack([0.5 + 0.05 * np.cos(angles), 0.08 + 0.04 * np.sin(angles)], axis=1)
    for start, wrist in ((91, 9), (112, 10)):
        fan = np.stack([np.repeat(np.linspace(-0.03, 0.03, 5), 4), np.tile(np.linspace(0.01, 0.04, 4), 5)], axis=1)
        points[start, :2] = _BODY[wrist]
        points[start + 1:start + 21, :2] = _BODY[wrist] + fan
    points[:, 2] = 0.9
    points[[18, 21], 2] = 0.0  # small toes: "not observed"
    return points


def bright_boxes(image: np.ndarray) -> list[np.ndarray]:
    """``[x, y, w, h]`` of each bright connected region, sorted left to right."""
    import cv2

    mask = (image.max(axis=2) > 200).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    boxes = [stats[i, :4].astype(np.float64) for i in range(1, count) if stats[i, 4] >= 20]
    return sorted(boxes, key=lambda box: box[0])


def person_in_box(box: np.ndarray) -> Person:
    x, y, w, h = box
    keypoints = template_keypoints()
    keypoints[:, 0] = x + keypoints[:, 0] * w
    keypoints[:, 1] = y + keypoints[:, 1] * h
    unit = template_keypoints()[:, :2] - [0.5, 0.55]
    metres = np.concatenate([unit, np.zeros((133, 1))], axis=1) * 1.7
    return Person(
        keypoints=keypoints,
        score=0.9,
        part_scores={"body": 0.9, "foot": 0.6, "face": 0.8, "lefthand": 0.7, "righthand": 0.7},
        bbox=np.array(box, dtype=np.float64),
        part_boxes={"face": np.array([x + 0.44 * w, y + 0.03 * h, 0.12 * w, 0.10 * h]),
                    "lefthand": np.array([x + 0.76 * w, y + 0.52 * h, 0.08 * w, 0.06 * h]),
                    "righthand": None},
        keypoints_3d={"body": metres[:23], "lefthand": metres[91:112] - metres[91],
                      "righthand": None, "face": metres[23:91] - metres[23:91].mean(axis=0)},
    )


class FakeEstimator:
    """Callable like ``WholeBodyEstimator``: ``est(image_rgb, person_boxes=None, person_scores=None)``.

    With ``person_boxes`` it returns one person per given box (score 0.9 x box score) instead of
    looking at the image.
    ``calls`` counts the images it saw.
    """

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, image: np.ndarray, person_boxes: np.ndarray | None = None,
                 person_scores: np.ndarray | None = None) -> list[Person]:
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3, image.shape
        self.calls += 1
        if person_boxes is None:
            return [person_in_box(box) for box in bright_boxes(image)]
        boxes = np.asarray(person_boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.ones(len(boxes)) if person_scores is None else np.asarray(person_scores, dtype=np.float64)
        people = [person_in_box(box) for box in boxes]
        for person, score in zip(people, scores):
            person.score = float(score) * 0.9
        return people


class StallingEstimator(FakeEstimator):
    """A ``FakeEstimator`` that stalls from its ``stall_at``-th image on (1-based; 0: never): it
    touches ``marker`` (if given) and sleeps ``seconds`` before answering, so that a test can
    signal or kill a run in the middle of an image."""

    def __init__(self, stall_at: int = 0, seconds: float = 600.0, marker: str | None = None) -> None:
        super().__init__()
        self.stall_at, self.seconds, self.marker = stall_at, seconds, marker

    def __call__(self, image: np.ndarray, person_boxes: np.ndarray | None = None,
                 person_scores: np.ndarray | None = None) -> list[Person]:
        if self.stall_at and self.calls + 1 >= self.stall_at:
            if self.marker:
                Path(self.marker).touch()
            time.sleep(self.seconds)
        return super().__call__(image, person_boxes, person_scores)
