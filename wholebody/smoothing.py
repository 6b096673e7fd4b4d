"""One-Euro smoothing of each tracked person's keypoints (2D pixels, and 3D metres per part).

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

from typing import Sequence

import numpy as np

from wholebody.schema import PART_SLICES
from wholebody.track import BODY_AND_FEET, person_box
from wholebody.types import Person


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
