"""Every hand found, then given to the right person and side (one-to-one), or output alone.

``HandAssembler`` is the estimator's hand step (all coordinates original pixels):

1. candidates: the hand landmarks of each body wrist crop (``landmarks.hands.wrist_crop``), the
   hands the palm detector found on the whole image (``finder.FoundParts.hands``), a wider crop
   at a wrist whose foreshortened forearm made its crop too tight (``foreshortened``) and, where a
   wrist still has no confident hand near it, the palm detector run on a square region of
   ``SEARCH_SIDE`` body scales around that wrist (``detect.palms.RegionPalmDetector``);
2. candidates with presence >= ``PART_FOUND`` whose landmark boxes overlap (IoU > ``SAME_HAND_IOU``)
   are one hand: the one with the higher presence is kept;
3. a greedy one-to-one assignment of hands to (person, side) slots by
   ``association.hand_pair_cost``: the model's handedness vetoes the other side, a hand lies
   ahead of its wrist along the forearm (not behind the elbow) and within a forearm plus a
   hand of it;
4. a slot left empty keeps its own wrist crop's landmarks at their low presence (points and 3D,
   no box), as the expert's best guess, unless that hand went to another slot;
5. confident palm-found hands no slot took are left in ``found.hands`` for
   ``finder.leftover_people``, which outputs each as a hand alone.

The wrist search (step 1) runs only for a wrist whose crop found no confident hand and that no
other confident hand can reach, so a person whose hands the crops found pays nothing for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from wholebody.experts.assemble.association import body_scale, box_iou, greedy_pairs, hand_pair_cost
from wholebody.experts.assemble.foreshortened import foreshortened_hands
from wholebody.experts.assemble.limbs import ELBOWS, SIDES, WRISTS
from wholebody.experts.assemble.person import PART_FOUND, fill_hand
from wholebody.types import Person

log = logging.getLogger(__name__)
SAME_HAND_IOU = 0.3
SEARCH_SIDE = 2.0  # wrist search region side, body scales
SEARCH_SHIFT = 0.35  # its centre lies this many forearms past the wrist (where the hand is)
SEARCH_MIN_WRIST = 0.5  # wrists scoring lower (hidden, off-image guesses) are not searched
QUICK_PRESENCE = 0.1  # see HandAssembler's quick_landmarks
SEARCH_MIN_SCALE = 20.0  # nor people this small (body scale, px): their hands are too small for the hand models


@dataclass
class HandCandidate:
    """One hand seen by some route: landmarks, the palm score (None from a wrist crop alone) and
    the wrist crop slots ``(person, side index)`` it was seen from."""

    hand: object
    palm_score: float | None = None
    slots: set = field(default_factory=set)


class HandAssembler:
    """``assembler(image, people, crop_hands, found)`` fills every person's hands (module docstring).

    Args:
        region_palms: a ``detect.palms.RegionPalmDetector`` for the wrist search, or None (no search).
        landmarks: ``(image, SquareCrop) -> HandLandmarks`` run on each palm ROI the search finds
            (``finder.PartFinder.hand_landmarks``).
        quick_landmarks: optional cheaper ``(image, SquareCrop) -> HandLandmarks`` (one ``lite`` pass,
            a fifth of the cost) run first: a palm whose hand it gives presence below
            ``QUICK_PRESENCE`` (a fist, a glove, a false palm) does not get ``landmarks``.
    """

    def __init__(self, region_palms=None, landmarks=None, quick_landmarks=None) -> None:
        self.region_palms = region_palms if landmarks is not None else None
        self.landmarks = landmarks
        self.quick_landmarks = quick_landmarks
        self.searched = 0  # wrist regions searched by the last call (for the speed report)
        # What the last call did, for the diagnosis report (benchmarks/hand_diagnosis.py): per
        # (person, side index) why its wrist was or was not searched; the merged candidates; their slots.
        self.search_notes: dict[tuple[int, int], str] = {}
        self.candidates: list[HandCandidate] = []
        self.taken: dict[tuple[int, int], int] = {}

    @classmethod
    def for_parts(cls, parts, search: bool = True) -> HandAssembler:
        """The estimator's assembler: with the wrist search on the palm detector of ``parts``
        (a ``finder.PartFinder``, or None: no search) when ``search``."""
        if not search or parts is None or parts.palm_detector is None:
            return cls()
        from wholebody.experts.detect.palms import RegionPalmDetector
        from wholebody.experts.landmarks.hands import HandExpert

        quick = HandExpert(parts.num_threads, ("hand_landmark_lite",))  # one pass, no mirror
        return cls(RegionPalmDetector(parts.palm_detector), parts.hand_landmarks, quick)

    def __call__(self, image: np.ndarray, people: list[Person], crop_hands: list[tuple[int, str, object]],
                 found=None) -> None:
        """Fill ``people``'s hand blocks in place.

        Args:
            image: (H, W, 3) uint8 RGB.
            people: persons with body points filled.
            crop_hands: (person index, side, HandLandmarks) of each wrist crop.
            found: ``finder.FoundParts`` or None; its ``hands`` become the confident palm-found
                hands no person took (``used_hands`` cleared).
        """
        palm_hands = list(found.hands) if found is not None else []
        candidates = [HandCandidate(hand, None, {(i, SIDES.index(side))})
                      for i, side, hand in crop_hands if hand.presence >= PART_FOUND]
        candidates += [HandCandidate(hand, float(score)) for score, hand in palm_hands]
        if self.landmarks is not None and people:  # a forearm pointing at the camera left its crop too tight
            candidates += [HandCandidate(hand, None, {(i, SIDES.index(side))}) for i, side, hand in
                           foreshortened_hands(image, people, crop_hands, self.landmarks, SEARCH_MIN_WRIST,
                                               SEARCH_MIN_SCALE)]
        self.searched, self.search_notes = 0, {}
        if self.region_palms is not None and people:
            known = list(found.palm_boxes) if found is not None else []
            candidates += self._search(image, people, crop_hands, candidates, known)
        hands = merge_same_hands(candidates)
        taken = assign_hands(people, [c.hand for c in hands])
        self.candidates, self.taken = hands, taken
        for (i, side), h in taken.items():
            fill_hand(people[i], SIDES[side], hands[h].hand, found=True)
        own = {(i, SIDES.index(side)): hand for i, side, hand in crop_hands}
        gone = [hands[h].hand.box(0.0) for h in taken.values()]
        for slot, hand in own.items():
            if slot not in taken and not any(box_iou(hand.box(0.0), box) > SAME_HAND_IOU for box in gone):
                fill_hand(people[slot[0]], SIDES[slot[1]], hand, found=False)
                # its 3D too, as every wrist reading had before: results_3d gives every person two hands
                people[slot[0]].keypoints_3d[SIDES[slot[1]] + "hand"] = hand.world - hand.world[0]
        if found is not None:
            found.hands = [(c.palm_score, c.hand) for h, c in enumerate(hands)
                           if h not in taken.values() and c.palm_score is not None]
            found.used_hands = set()

    def _search(self, image: np.ndarray, people: list[Person], crop_hands: list, candidates: list,
                known_palms: list) -> list:
        """Palm hands found in the region around each wrist that nothing else covers (module docstring);
        a palm the whole-image search already had (``known_palms``, IoU > ``SAME_HAND_IOU``) had its hand
        models run there, so it is not run again."""
        confident = {(i, SIDES.index(side)) for i, side, hand in crop_hands if hand.presence >= PART_FOUND}
        height, width = image.shape[:2]
        out = []
        for i, person in enumerate(people):
            scale = body_scale(person.keypoints)
            for side in (0, 1):
                wrist, elbow = person.keypoints[WRISTS[side]], person.keypoints[ELBOWS[side], :2]
                note = _skip_reason(wrist, scale, (i, side) in confident, width, height)
                if note is None and any(np.isfinite(hand_pair_cost(c.hand.points, c.hand.right, side, wrist[:2],
                                                                   elbow, scale)) for c in candidates + out):
                    note = "a known hand can reach it"
                if note is not None:
                    self.search_notes[(i, side)] = note
                    continue
                centre = wrist[:2] + SEARCH_SHIFT * (wrist[:2] - elbow)
                self.searched += 1
                palms, before = self.region_palms(image, centre, SEARCH_SIDE * scale), len(out)
                for palm in palms:
                    if any(box_iou(palm.box, box) > SAME_HAND_IOU for box in known_palms):
                        continue
                    known_palms.append(palm.box)  # both wrists of one person may find it
                    if self.quick_landmarks is not None and \
                            self.quick_landmarks(image, palm.crop).presence < QUICK_PRESENCE:
                        continue
                    hand = self.landmarks(image, palm.crop)
                    if hand.presence >= PART_FOUND:
                        out.append(HandCandidate(hand, float(palm.score)))
                self.search_notes[(i, side)] = f"searched: {len(palms)} palm(s), {len(out) - before} new hand(s)"
        if out:
            log.debug("wrist search: %d region(s), %d hand(s)", self.searched, len(out))
        return out


def _skip_reason(wrist: np.ndarray, scale: float, confident: bool, width: int, height: int) -> str | None:
    """Why a wrist (x, y, score) of a person of body scale ``scale`` px gets no region search, or None."""
    if confident:
        return "its crop found a hand"
    if wrist[2] < SEARCH_MIN_WRIST:
        return f"wrist score {wrist[2]:.3f} < {SEARCH_MIN_WRIST}"
    if scale < SEARCH_MIN_SCALE:
        return f"body scale {scale:.0f} px < {SEARCH_MIN_SCALE:.0f}"
    if not (0 <= wrist[0] < width and 0 <= wrist[1] < height):
        return "wrist off the image"
    return None


def merge_same_hands(candidates: list[HandCandidate]) -> list[HandCandidate]:
    """One candidate per hand: overlapping landmark boxes (IoU > ``SAME_HAND_IOU``) are one hand,
    the higher presence kept, with the best palm score and every crop slot of the group."""
    order = sorted(range(len(candidates)), key=lambda k: -candidates[k].hand.presence)
    kept: list[HandCandidate] = []
    for k in order:
        cand = candidates[k]
        box = cand.hand.box(0.0)
        same = next((c for c in kept if box_iou(box, c.hand.box(0.0)) > SAME_HAND_IOU), None)
        if same is None:
            kept.append(HandCandidate(cand.hand, cand.palm_score, set(cand.slots)))
            continue
        same.slots |= cand.slots
        if cand.palm_score is not None:
            same.palm_score = max(cand.palm_score, same.palm_score or 0.0)
    return kept


def assign_hands(people: list[Person], hands: list) -> dict[tuple[int, int], int]:
    """{(person index, side index): hand index}, one-to-one, cheapest pairs first (``hand_pair_cost``)."""
    if not people or not hands:
        return {}
    slots = [(i, side) for i in range(len(people)) for side in (0, 1)]
    scales = [body_scale(p.keypoints) for p in people]
    costs = np.array([[hand_pair_cost(h.points, h.right, side, people[i].keypoints[WRISTS[side], :2],
                                      people[i].keypoints[ELBOWS[side], :2], scales[i],
                                      people[i].keypoints[WRISTS[side], 2])
                       for (i, side) in slots] for h in hands])
    return {slots[s]: h for h, s in greedy_pairs(costs)}
