"""Person detections as the estimator consumes them.

Any detector works if calling it on an (H, W, 3) uint8 RGB image returns either an object
with ``boxes`` ((N, 4) ``[x, y, w, h]`` original pixels) and ``scores`` ((N,)) attributes
(optionally ``keypoints``), a ``(boxes, scores)`` tuple, or a dict with those keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Detections:
    """People found in one image.

    Attributes:
        boxes: (N, 4) ``[x, y, w, h]`` in original pixels.
        scores: (N,) detection scores in [0, 1].
        keypoints: optional (N, K, 2 or 3) detector keypoints in original pixels.
    """

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        if len(self.scores) != len(self.boxes):
            raise ValueError(f"detections: {len(self.boxes)} boxes but {len(self.scores)} scores")


def as_detections(result: Any) -> Detections:
    """Normalise a detector's return value (see module docstring) to ``Detections``."""
    if isinstance(result, Detections):
        return result
    if isinstance(result, dict):
        return Detections(result["boxes"], result["scores"], result.get("keypoints"))
    if isinstance(result, (tuple, list)) and len(result) in (2, 3):
        return Detections(*result)
    if hasattr(result, "boxes") and hasattr(result, "scores"):
        return Detections(result.boxes, result.scores, getattr(result, "keypoints", None))
    raise TypeError(f"cannot read person detections from {type(result).__name__}: need boxes and scores")
