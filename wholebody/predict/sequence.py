"""People across the frames of one video file or live stream: carry-over, track ids, smoothing.

``predict.runner`` (video files) and ``predict.live`` (cameras and streams) treat frames alike
through one ``FrameSequence`` per source: ``estimate`` asks the estimator for a frame's people
with the boxes to re-crop that the frame before left (``carry_over.CarryOver``; only for estimators
that take them, ``accepts_carry``), and ``update`` records the frame's people, gives them track
ids and smooths them (smoothing follows identities, so it needs tracking).  Boxes ``[x, y, w, h]``
in pixels; frames are 0-based indices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from wholebody.carry_over import CarryOver
from wholebody.smoothing import KeypointSmoother
from wholebody.track import PersonTracker
from wholebody.types import Person


def estimate_with_carry(estimator: Callable, image: np.ndarray,
                        carry: tuple[np.ndarray, ...] | None) -> list[Person]:
    """``estimator(image)``, passing ``carry`` (``carry_over.CarryOver``'s boxes, scores, body angles, track ids)
    where the estimator accepts it."""
    if carry is not None and getattr(estimator, "accepts_carry", False):
        return list(estimator(image, carry=carry))
    return list(estimator(image))


@dataclass
class SequenceOptions:
    """How frames of one source are tied together (the base of ``RunOptions`` and ``LiveOptions``):
    track ids, One-Euro smoothing (``min_cutoff`` in Hz, ``beta``), and the keypoint score in [0, 1]
    below which a point is not used."""

    track: bool = True
    smooth: bool = True
    score_thr: float = 0.3
    min_cutoff: float = 0.5
    beta: float = 20.0


class FrameSequence:
    """The state one video or stream keeps from frame to frame (module docstring).

    Args:
        fps: frames per second (the smoother's time step).
        options: ``SequenceOptions`` (or a subclass); smoothing needs tracking (it follows ids).
    """

    def __init__(self, fps: float, options: SequenceOptions | None = None) -> None:
        options = options or SequenceOptions()
        score_thr = options.score_thr
        self.tracker = PersonTracker(score_thr=score_thr) if options.track else None
        self.smoother = (KeypointSmoother(fps, options.min_cutoff, options.beta, score_thr=score_thr)
                         if options.track and options.smooth else None)
        self._carry_over = CarryOver(score_thr=score_thr)
        self.carry: tuple[np.ndarray, ...] | None = None  # boxes, scores, body angles, track ids to re-crop next

    def estimate(self, estimator: Callable, image: np.ndarray) -> list[Person]:
        """The estimator's people for the next frame, with this sequence's carry-over."""
        return estimate_with_carry(estimator, image, self.carry)

    def update(self, people: Sequence[Person], frame: int) -> None:
        """Record frame ``frame``'s people: track ids, carry-over for the next frame, smoothing (in place).

        Ids come first so the carry-over knows whose box it carries: the person found in it next
        frame keeps the id (``track.PersonTracker``'s hint) however their pose changed."""
        if self.tracker is not None:
            self.tracker.update(people, frame)
        self.carry = self._carry_over.update(people, frame)
        if self.smoother is not None:
            self.smoother.update(people, frame)

    def missed(self) -> None:
        """The estimator failed on a frame: the next one starts without carry-over."""
        self.carry = None
