"""Stable person IDs across video frames (``wholebody.smoothing`` smooths keypoints per ID,
``wholebody.carry_over`` gives the boxes to re-crop in the next frame).

:class:`PersonTracker` matches each frame's people to the live tracks by a similarity that mixes
box IoU and keypoint OKS (COCO-WholeBody sigmas) against each track's *predicted* pose (last
pose + constant velocity x frames elapsed), so two people who cross keep their IDs.  Matching
is greedy, best pair first (with a handful of people per frame it agrees with the optimal
assignment except in near-ties, and needs no extra dependency).  A track survives
``max_missed`` frames without a match (60: a person who leaves and re-enters within 2 s at
30 fps keeps the ID when the position fits: a track lost for more than a frame takes an
unmatched person whose box centre is within about one person size of where it was last seen,
however the pose changed); a person matched to none gets a new ID (1, 2, ...).  Matching is one
to one, so one person never gets two tracks in a frame.  A person the estimator found in a box
carried from a track (``carry_over.CarryOver``; ``Person.track_id`` already set) takes that
track when no better-matching person did and it was last seen within about one person size: a
flip changes pose and box too fast for the similarity.
A lost track's pose is extrapolated for at most ``EXTRAPOLATE_FRAMES`` frames and then waits
where it was last heading, so a re-entry is matched near where the person left, not where a
constant velocity would have carried them over a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from wholebody.experts.crops import box_of_points
from wholebody.schema import PART_SLICES, SIGMAS
from wholebody.types import Person

BODY_AND_FEET = PART_SLICES["foot"].stop  # the first 23 of the 133 points
EXTRAPOLATE_FRAMES = 5


def person_box(person: Person, score_thr: float = 0.0) -> np.ndarray:
    """The person's ``[x, y, w, h]`` box: ``person.bbox``, else the extent of its scored points."""
    if person.bbox is not None:
        return np.asarray(person.bbox, dtype=np.float64)
    box = box_of_points(person.keypoints, person.keypoints[:, 2] > score_thr)
    return np.zeros(4) if box is None else box


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two ``[x, y, w, h]`` boxes (0 when either is empty)."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(x2 - x1, 0.0) * max(y2 - y1, 0.0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


def keypoint_oks(a: np.ndarray, b: np.ndarray, area: float, score_thr: float) -> float | None:
    """COCO OKS between two (133, 3) poses over points scored above ``score_thr`` in both; None if none."""
    both = (a[:, 2] > score_thr) & (b[:, 2] > score_thr)
    if not both.any() or area <= 0:
        return None
    d2 = ((a[both, :2] - b[both, :2]) ** 2).sum(axis=1)
    return float(np.exp(-d2 / (2 * area * (2 * SIGMAS[both]) ** 2)).mean())


@dataclass
class _Track:
    track_id: int
    keypoints: np.ndarray  # (133, 3) last matched pose, pixels
    box: np.ndarray  # (4,) xywh
    frame: int  # frame index of the last match
    velocity: np.ndarray  # (133, 2) pixels per frame
    box_velocity: np.ndarray  # (4,) per frame

    def predicted(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """The pose and box expected at ``frame``: the last ones moved by their velocity.

        The box keeps its last size and only its centre moves: a box whose size jumped for
        one frame (a person turning side-on, an odd crop) would otherwise be extrapolated to
        a negative width and match nothing (sports2d demo: the man on the box changed id twice).
        """
        steps = min(frame - self.frame, EXTRAPOLATE_FRAMES)
        keypoints = self.keypoints.copy()
        keypoints[:, :2] += self.velocity * steps
        centre_velocity = self.box_velocity[:2] + self.box_velocity[2:] / 2
        box = self.box.copy()
        box[:2] += centre_velocity * steps
        return keypoints, box


class PersonTracker:
    """Assign ``Person.track_id`` frame by frame (module docstring).

    Args:
        iou_weight: weight of box IoU in the similarity; the rest is keypoint OKS.
        min_similarity: a pair less similar than this is not matched.
        max_missed: frames a track may go unmatched before its ID is retired (60: 2 s at 30 fps;
            the sports2d man was lost for 46 frames in sun glare during a flip).
        reenter_distance: a track lost for more than a frame takes an unmatched person whose box
            centre is within this many box sizes (larger side) of its last one (``_re_entries``).
        score_thr: keypoints above this score take part in OKS and velocity.
    """

    def __init__(self, iou_weight: float = 0.5, min_similarity: float = 0.2, max_missed: int = 60,
                 score_thr: float = 0.3, reenter_distance: float = 1.0) -> None:
        self.iou_weight, self.min_similarity, self.reenter_distance = iou_weight, min_similarity, reenter_distance
        self.max_missed, self.score_thr = max_missed, score_thr
        self._tracks: list[_Track] = []
        self._next_id = 1

    @property
    def live_ids(self) -> list[int]:
        return [t.track_id for t in self._tracks]

    def update(self, people: Sequence[Person], frame: int) -> Sequence[Person]:
        """Set ``track_id`` on each of ``people`` (the frame with index ``frame``) and return them.

        A ``track_id`` already set on a person is a hint (``_hinted``): that live track takes them
        when no better-matching person did."""
        self._tracks = [t for t in self._tracks if frame - t.frame <= self.max_missed]
        boxes = [person_box(p, self.score_thr) for p in people]
        pairs = []
        for ti, track in enumerate(self._tracks):
            predicted_keypoints, predicted_box = track.predicted(frame)
            for pi, person in enumerate(people):
                # The last pose and box too: when a box shrinks fast (a person leaving at the image
                # edge) the constant-velocity prediction overshoots while the last box still fits.
                similarity = max(self._similarity(predicted_keypoints, predicted_box, person.keypoints, boxes[pi]),
                                 self._similarity(track.keypoints, track.box, person.keypoints, boxes[pi]))
                if similarity >= self.min_similarity:
                    pairs.append((similarity, ti, pi))
        matched_tracks, matched_people = set(), set()
        for _, ti, pi in sorted(pairs, key=lambda pair: -pair[0]):
            if ti in matched_tracks or pi in matched_people:
                continue
            matched_tracks.add(ti)
            matched_people.add(pi)
            self._advance(self._tracks[ti], people[pi], boxes[pi], frame)
        for ti, pi in self._hinted(people, boxes, matched_tracks, matched_people):
            self._advance(self._tracks[ti], people[pi], boxes[pi], frame)
        for ti, pi in self._re_entries(people, boxes, frame, matched_tracks, matched_people):
            self._advance(self._tracks[ti], people[pi], boxes[pi], frame)
        for pi, person in enumerate(people):
            if pi not in matched_people:
                self._start(person, boxes[pi], frame)
        return people

    def _hinted(self, people, boxes, matched_tracks: set, matched_people: set) -> list:
        """(track, person) pairs for people no track matched whose ``track_id`` is already set (the
        estimator found them in a box carried from that track, ``CarryOver``) and that track is
        live, unmatched and last seen within ``reenter_distance`` box sizes (larger side); one to
        one, both sets updated.  A flipping person's pose and box change too much between frames
        for the similarity, but the carried crop says who it is; a better-matching person keeps
        the track (a carried box that found a duplicate of someone must not take their id)."""
        index_of = {track.track_id: ti for ti, track in enumerate(self._tracks)}
        out = []
        for pi, person in enumerate(people):
            ti = index_of.get(person.track_id)
            if pi in matched_people or ti is None or ti in matched_tracks:
                continue
            track = self._tracks[ti]
            size = max(track.box[2], track.box[3], boxes[pi][2], boxes[pi][3], 1.0)
            gap = float(np.hypot(*(boxes[pi][:2] + boxes[pi][2:] / 2 - track.box[:2] - track.box[2:] / 2))) / size
            if gap <= self.reenter_distance:
                matched_tracks.add(ti)
                matched_people.add(pi)
                out.append((ti, pi))
        return out

    def _re_entries(self, people, boxes, frame: int, matched_tracks: set, matched_people: set) -> list:
        """(track, person) pairs for people no track matched and tracks lost for more than one frame whose
        last box centre is within ``reenter_distance`` x the larger side of the two boxes, nearest first,
        one to one (both sets are updated).  A person who vanished (occluded, lost in glare, a flip)
        and comes back where they left or nearby keeps their id although pose and box changed."""
        pairs = []
        for ti, track in enumerate(self._tracks):
            if ti in matched_tracks or frame - track.frame < 2:
                continue
            centre = track.box[:2] + track.box[2:] / 2
            for pi in range(len(people)):
                if pi in matched_people:
                    continue
                size = max(track.box[2], track.box[3], boxes[pi][2], boxes[pi][3], 1.0)
                gap = float(np.hypot(*(boxes[pi][:2] + boxes[pi][2:] / 2 - centre))) / size
                if gap <= self.reenter_distance:
                    pairs.append((gap, ti, pi))
        out = []
        for _, ti, pi in sorted(pairs):
            if ti not in matched_tracks and pi not in matched_people:
                matched_tracks.add(ti)
                matched_people.add(pi)
                out.append((ti, pi))
        return out

    def _similarity(self, track_keypoints, track_box, keypoints, box) -> float:
        iou = box_iou(track_box, box)
        area = max(track_box[2] * track_box[3], 1.0)
        oks = keypoint_oks(track_keypoints, keypoints, area, self.score_thr)
        return iou if oks is None else self.iou_weight * iou + (1 - self.iou_weight) * oks

    def _advance(self, track: _Track, person: Person, box: np.ndarray, frame: int) -> None:
        steps = max(frame - track.frame, 1)
        both = (track.keypoints[:, 2] > self.score_thr) & (person.keypoints[:, 2] > self.score_thr)
        velocity = np.zeros((133, 2))
        velocity[both] = (person.keypoints[both, :2] - track.keypoints[both, :2]) / steps
        track.velocity = velocity
        track.box_velocity = (box - track.box) / steps
        track.keypoints, track.box, track.frame = person.keypoints.copy(), box, frame
        person.track_id = track.track_id

    def _start(self, person: Person, box: np.ndarray, frame: int) -> None:
        track = _Track(self._next_id, person.keypoints.copy(), box, frame, np.zeros((133, 2)), np.zeros(4))
        self._tracks.append(track)
        person.track_id = track.track_id
        self._next_id += 1
