"""A second look at hands whose forearm points at the camera: a wrist crop sized by the body.

The wrist crop (``landmarks.hands.wrist_crop``) is ``hand_side`` forearm lengths wide.  When the
forearm points at the camera its image is short (insightface t1: Phoebe's left forearm is 21 px
for a body scale of 172 px) and the crop shrinks with it, to 27 px around a 70 px hand holding
cards: the hand model sees a patch of fingers and reports presence 0.27.  The palm search around
that wrist (``hand_assembly``) covers 2 body scales, where a 70 px hand's palm is too small for
the palm detector (it finds it in a region of 140 px, not of 344 px).

Here, a wrist whose crop found no confident hand, whose crop is narrower than ``TIGHT_CROP``
body scales and whose score is at least ``hand_assembly.SEARCH_MIN_WRIST`` gets one more crop:
centred on the wrist (a foreshortened forearm says nothing about where the hand lies), ``WIDE_SIDE``
body scales wide, turned along the forearm like the wrist crop.  On Phoebe's hand the hand model
gives presence 0.98-0.99 on such crops of 0.6-1.0 body scales at any of the three turns tried
(upright, forearm, upper arm).  The hand found is a candidate of that slot like a wrist-crop
hand; below ``PART_FOUND`` it is dropped and the slot keeps its first crop's guess.

All coordinates are original pixels; body scales are ``association.body_scale``.
"""

from __future__ import annotations

import logging

import numpy as np

from wholebody.experts.assemble.association import body_scale
from wholebody.experts.assemble.limbs import ELBOWS, SIDES, WRISTS
from wholebody.experts.assemble.person import PART_FOUND
from wholebody.experts.crops import SquareCrop, angle_for_up
from wholebody.types import Person

TIGHT_CROP = 0.5  # a wrist crop narrower than this many body scales saw only part of a hand
WIDE_SIDE = 0.8  # the second crop's side, body scales (a hand is about 0.4-0.6 of them long)
log = logging.getLogger(__name__)


def wide_crop(wrist: np.ndarray, elbow: np.ndarray, scale: float, input_size: int) -> SquareCrop:
    """The second crop: centred on ``wrist``, ``WIDE_SIDE`` x ``scale`` pixels wide, forearm up."""
    wrist = np.asarray(wrist, dtype=np.float64)
    forearm = wrist - np.asarray(elbow, dtype=np.float64)
    angle = angle_for_up(forearm) if np.all(np.isfinite(forearm)) else 0.0
    return SquareCrop((float(wrist[0]), float(wrist[1])), WIDE_SIDE * scale, angle, input_size)


def foreshortened_hands(image: np.ndarray, people: list[Person], crop_hands: list[tuple[int, str, object]],
                        landmarks, min_wrist: float, min_scale: float) -> list[tuple[int, str, object]]:
    """(person index, side, HandLandmarks) of the confident hands found by a wide crop at each
    wrist whose own crop was too tight (module docstring).

    Args:
        image: (H, W, 3) uint8 RGB.
        people: persons with body points filled.
        crop_hands: (person index, side, HandLandmarks) of each wrist crop; ``hand.crop`` is that crop.
        landmarks: ``(image, SquareCrop) -> HandLandmarks``.
        min_wrist: wrists scoring lower are not looked at again (unseen, often on a neighbour).
        min_scale: nor people with a smaller body scale (pixels): their hands are too small.
    """
    height, width = image.shape[:2]
    out, looked = [], 0
    for i, side, hand in crop_hands:
        if hand.presence >= PART_FOUND:
            continue
        keypoints = people[i].keypoints
        scale = body_scale(keypoints)
        wrist, elbow = keypoints[WRISTS[SIDES.index(side)]], keypoints[ELBOWS[SIDES.index(side)], :2]
        if (scale < min_scale or wrist[2] < min_wrist or hand.crop.side >= TIGHT_CROP * scale
                or not (0 <= wrist[0] < width and 0 <= wrist[1] < height)):
            continue
        looked += 1
        again = landmarks(image, wide_crop(wrist[:2], elbow, scale, hand.crop.size))
        if again.presence >= PART_FOUND:
            out.append((i, side, again))
    if looked:
        log.debug("foreshortened forearms: %d wide crop(s), %d hand(s)", looked, len(out))
    return out
