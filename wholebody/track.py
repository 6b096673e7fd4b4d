"""Video helpers: stable person IDs across frames, and One-Euro smoothing of keypoints per ID.

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
carried from a track (``CarryOver``; ``Person.track_id`` already set) takes that track when no
better-matching person did and it was last seen within about one person size: a flip changes
pose and box too fast for the similarity.
A lost track's pose is extrapolated for at most ``EXTRAPOLATE_FRAMES`` frames and then waits
where it was last heading, so a re-entry is matched near where the person left, not where a
constant velocity would have carried them over a second.

:class:`OneEuroFilter` is the 1-euro filter of Casiez, Roussel and Vogel (CHI 2012): an
exponential low-pass filter whose cutoff rises with speed, ``cutoff = min_cutoff + beta *
|speed|``, so a still point is smoothed hard and a moving one lags little.  As in MediaPipe's
landmark smoothing, the speed is measured in *person sizes per second* (pixels / person size,
size = mean of the box width and height), so the parameters do not depend on image resolution
or on how far the person is; the filtered values stay in pixels.  :class:`KeypointSmoother`
keeps one filter per track and smooths the x, y of every keypoint whose score is above
``score_thr``; a point below it passes through unchanged and its filter restarts.  With
``smooth_3d`` it also smooths each part's 3D points (``Person.keypoints_3d``, metres) with
their own filters and the same parameters, the speed measured in units of ``SIZE_3D`` (1 m, a
person's mean width and height) per second so 3D is smoothed like 2D; a 3D point is active
when its 2D point is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from wholebody.experts.assemble.carry import body_angle
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


def follow_boxes(people: Sequence[Person], score_thr: float = 0.3, margin: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """Person boxes for the next video frame from this frame's people (``--detect-every``).

    Each box is the extent of the person's body and foot points scored above ``score_thr``,
    grown by ``margin`` x its size per side (people move between frames, and the body expert's
    crop needs the whole person); a person with fewer than two such points keeps its own
    ``bbox``.  Scores are the people's ``box_score`` (1 when unknown), so an instance keeps the
    detector's confidence while it is followed.  Returns (N, 4) ``[x, y, w, h]`` and (N,).
    """
    boxes, scores = [], []
    for person in people:
        body = person.keypoints[:BODY_AND_FEET]
        seen = body[:, 2] > score_thr
        _add_box(boxes, scores, person, box_of_points(body, seen) if seen.sum() >= 2 else None, margin)
    return np.array(boxes, dtype=np.float64).reshape(-1, 4), np.array(scores, dtype=np.float64)


def carry_boxes(people: Sequence[Person], score_thr: float = 0.3, margin: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """This frame's people as boxes to re-crop in the next frame where its detector misses them
    (``experts.assemble.carry``): like ``follow_boxes``, the extent of each person's body and foot
    points scored above ``score_thr``, grown by ``margin`` per side; but where those points span
    less than half the extent of all 23 (a person in glare or mid-flip, found with two sure points:
    the sports2d man's carry box shrank to 33 x 20 px and he was lost for 30 frames) the extent of
    all 23 is used (a person without body points, a face or hand alone, keeps its ``bbox``).
    Returns (N, 4) ``[x, y, w, h]`` and (N,) scores, one per person with a body or a ``bbox``."""
    boxes, scores = [], []
    for person in people:
        body = person.keypoints[:BODY_AND_FEET]
        finite = np.isfinite(body).all(axis=1)
        seen = finite & (body[:, 2] > score_thr)
        whole = box_of_points(body, finite) if finite.sum() >= 2 else None
        whole = whole if whole is not None and max(whole[2:]) >= 1.0 else None  # a face- or hand-only person
        box = box_of_points(body, seen) if seen.sum() >= 2 else None
        if whole is not None and (box is None or max(box[2:]) < 0.5 * max(whole[2:])):
            box = whole
        _add_box(boxes, scores, person, box, margin)
    return np.array(boxes, dtype=np.float64).reshape(-1, 4), np.array(scores, dtype=np.float64)



def _add_box(boxes: list, scores: list, person: Person, box: np.ndarray | None, margin: float) -> None:
    """Append ``box`` grown by ``margin`` per side (or the person's ``bbox`` where ``box`` is None;
    nothing without either) and the person's box score."""
    if box is not None:
        box = box + margin * np.concatenate([-box[2:], 2 * box[2:]])
    elif person.bbox is not None:
        box = np.asarray(person.bbox, dtype=np.float64)
    else:
        return
    boxes.append(box)
    scores.append(1.0 if person.box_score is None else float(person.box_score))

class CarryOver:
    """Boxes to re-crop in the next frame (``WholeBodyEstimator(carry=...)``): this frame's people
    (``carry_boxes``) plus, for ``hold`` frames, the last box of each person who vanished.

    The landmark model's presence can dip below the estimator's floor for a frame (the sports2d
    demo: a backlit man on a box scored 0.07 in frame 143 and 1.0 in the same box in frame 146),
    and carry-over from the previous frame alone then never tries again: he was lost for 45
    frames.  A box whose person is not found in the next frame is retried for ``hold`` frames,
    also after the person is found again nearby (a re-found person may vanish again the next
    frame, and the box where they were last found whole is the one most likely to work).  Costs
    one body-model run per retried box per frame.  Boxes ``[x, y, w, h]``, pixels.

    Each box also carries the person's body angle (``body_angle``: radians, the crop angle that
    makes hip centre -> shoulder centre point up; the last usable one of the same track id when
    this frame's hips or shoulders are unsure, NaN when none is known) so the body model gets
    a tilted or upside-down person upright (``assemble.carry``), and the person's track id (-1:
    none) so the person found in the carried box keeps it (``PersonTracker``'s id hint).
    """

    def __init__(self, hold: int = 15, score_thr: float = 0.3) -> None:
        self.hold, self.score_thr = hold, score_thr
        self._current: list[tuple[np.ndarray, float, float, int]] = []  # the last frame's people
        self._lost: list[tuple[np.ndarray, float, float, int, int]] = []  # (box, score, angle, id, frame lost in)
        self._angles: dict[int, tuple[float, int]] = {}  # track id -> (last usable body angle, its frame)

    def update(self, people: Sequence[Person], frame: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Record the people of frame ``frame`` (track ids already set, or None); return for the next
        frame (M, 4) boxes, (M,) scores, (M,) body angles (radians, NaN: unknown) and (M,) track ids (-1: none)."""
        from wholebody.experts.detect.people import same_person

        boxes, scores = carry_boxes(people, self.score_thr)
        kept = [p for p in people if _has_carry_box(p, self.score_thr)]  # carry_boxes skips the others
        angles = [self._angle_of(person, frame) for person in kept]
        ids = [-1 if person.track_id is None else int(person.track_id) for person in kept]
        self._lost += [(box, score, angle, tid, frame) for box, score, angle, tid in self._current
                       if not any(same_person(box, own) for own in boxes)]
        self._lost = [lost for lost in self._lost if frame - lost[4] < self.hold and not self._moved_on(lost, boxes, ids)]
        self._angles = {k: v for k, v in self._angles.items() if frame - v[1] < self.hold + 1}
        self._current = [(box, float(score), angle, tid) for box, score, angle, tid in zip(boxes, scores, angles, ids)]
        every = self._current + [lost[:4] for lost in self._lost]
        return (np.array([e[0] for e in every], dtype=np.float64).reshape(-1, 4),
                np.array([e[1] for e in every], dtype=np.float64),
                np.array([e[2] for e in every], dtype=np.float64),
                np.array([e[3] for e in every], dtype=np.int64))

    @staticmethod
    def _moved_on(lost: tuple, boxes: np.ndarray, ids: list) -> bool:
        """Whether the person of a lost box is found this frame more than a box size away (their
        ``track_id``): the box then holds at most a duplicate of them (sports2d: a lost box of the
        man landing after a flip found his legs as a second person while he ran on)."""
        if lost[3] < 0 or lost[3] not in ids:
            return False
        box = boxes[ids.index(lost[3])]
        size = max(box[2], box[3], lost[0][2], lost[0][3], 1.0)
        return float(np.hypot(*(box[:2] + box[2:] / 2 - lost[0][:2] - lost[0][2:] / 2))) / size > 1.0

    def _angle_of(self, person: Person, frame: int) -> float:
        angle = body_angle(person.keypoints, self.score_thr)
        if person.track_id is None:
            return angle
        if np.isfinite(angle):
            self._angles[person.track_id] = (angle, frame)
            return angle
        return self._angles.get(person.track_id, (float("nan"), frame))[0]


def _has_carry_box(person: Person, score_thr: float) -> bool:
    """Whether ``carry_boxes`` gives ``person`` a box (same rule, so the lists stay aligned)."""
    return len(carry_boxes([person], score_thr)[0]) == 1


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


class OneEuroFilter:
    """The 1-euro filter on an array of independent values (each element has its own state).

    Args:
        min_cutoff: cutoff frequency (Hz) when still; lower = smoother, more lag.
        beta: cutoff increase per unit of speed (speed in ``value_scale`` units per second).
        d_cutoff: cutoff (Hz) of the low-pass on the speed estimate.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0) -> None:
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self._value: np.ndarray | None = None  # last filtered value
        self._raw: np.ndarray | None = None  # last observed value (the speed is taken from these)
        self._speed: np.ndarray | None = None  # low-passed speed, value units per second
        self._time: float | None = None
        self._fresh: np.ndarray | None = None  # elements with no history yet

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
        tau = 1.0 / (2 * np.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, value: np.ndarray, time_s: float, value_scale: float = 1.0,
                 active: np.ndarray | None = None) -> np.ndarray:
        """Filter ``value`` observed at ``time_s`` seconds.

        ``value_scale`` divides the speed before it enters the cutoff (so ``beta`` is per
        scale unit).  Elements where ``active`` is False pass through and restart their state.
        """
        value = np.asarray(value, dtype=np.float64)
        active = np.ones(value.shape, bool) if active is None else np.broadcast_to(active, value.shape)
        if self._value is None or self._value.shape != value.shape or time_s <= self._time:
            self._value, self._raw, self._speed = value.copy(), value.copy(), np.zeros_like(value)
            self._time, self._fresh = time_s, ~active
            return value.copy()
        dt = time_s - self._time
        restart = self._fresh | ~active  # no usable history: start from the observation
        raw_speed = (value - self._raw) / dt
        speed = np.where(restart, 0.0, self._speed + self._alpha(self.d_cutoff, dt) * (raw_speed - self._speed))
        cutoff = self.min_cutoff + self.beta * np.abs(speed) / max(value_scale, 1e-9)
        filtered = np.where(restart, value, self._value + self._alpha(cutoff, dt) * (value - self._value))
        self._value, self._raw, self._speed = filtered, value.copy(), speed
        self._time, self._fresh = time_s, ~active
        return filtered


SIZE_3D = 1.0  # metres: the 3D stand-in for the 2D person size (mean of box width and height)
# Which 133-layout points give each 3D part its activity (``Person.keypoints_3d`` layouts):
# body 3D holds the 23 body + foot points, the others their own part.
_PART_POINTS_3D = {"body": slice(0, BODY_AND_FEET), "face": PART_SLICES["face"],
                   "lefthand": PART_SLICES["lefthand"], "righthand": PART_SLICES["righthand"]}


class KeypointSmoother:
    """One :class:`OneEuroFilter` per track id over the (133, 2) pixel coordinates.

    Speeds are in person sizes per second (module docstring); frame times are ``frame / fps``.
    Filters of tracks not seen for ``forget_after`` frames are dropped.  The defaults were
    picked on synthetic signals at 30 fps with a 200 px person: noise of 1 % of the person size
    on a still point drops to 0.47x, and a point moving one person size per second lags by
    1.6 px (0.8 % of the size; the lag can never exceed size / (2 pi beta)).  Lower ``beta`` or
    ``min_cutoff`` smooth harder and lag more.
    """

    def __init__(self, fps: float, min_cutoff: float = 0.5, beta: float = 20.0, d_cutoff: float = 1.0,
                 score_thr: float = 0.3, forget_after: int = 30, smooth_3d: bool = True) -> None:
        self.fps, self.score_thr, self.forget_after, self.smooth_3d = float(fps), score_thr, forget_after, smooth_3d
        self._params = (min_cutoff, beta, d_cutoff)
        self._filters: dict[int, tuple[dict[str, OneEuroFilter], int]] = {}  # id -> (filter per key, last frame)

    def update(self, people: Sequence[Person], frame: int) -> Sequence[Person]:
        """Smooth each tracked person's keypoints in place (people without track id are left as is)."""
        self._filters = {k: v for k, v in self._filters.items() if frame - v[1] <= self.forget_after}
        time_s = frame / self.fps
        for person in people:
            if person.track_id is None:
                continue
            filters = self._filters.get(person.track_id, ({}, 0))[0]
            box = person_box(person, self.score_thr)
            size = max((box[2] + box[3]) / 2, 1.0)
            active = person.keypoints[:, 2] > self.score_thr
            points = filters.setdefault("2d", OneEuroFilter(*self._params))
            person.keypoints[:, :2] = points(person.keypoints[:, :2], time_s, size, active[:, None])
            if self.smooth_3d:
                self._smooth_3d(person, filters, time_s, active)
            self._filters[person.track_id] = (filters, frame)
        return people

    def _smooth_3d(self, person: Person, filters: dict[str, OneEuroFilter], time_s: float, active: np.ndarray) -> None:
        for part, xyz in (person.keypoints_3d or {}).items():
            if xyz is None or part not in _PART_POINTS_3D:
                continue
            xyz = np.asarray(xyz, dtype=np.float64)
            part_active = active[_PART_POINTS_3D[part]]
            if len(part_active) != len(xyz):  # a layout this smoother does not know: leave it
                continue
            one_euro = filters.setdefault("3d:" + part, OneEuroFilter(*self._params))
            person.keypoints_3d[part] = one_euro(xyz, time_s, SIZE_3D, part_active[:, None])
