"""Reuse of a part expert's result when one image asks it the same question twice.

The estimator runs the body expert on a person box, and its later rules may run it again on
the very same box: ``assemble.duplicates.resolve_duplicates`` re-estimates a duplicate body on
the top of its box (``upper_box``) or on its own detector points, and the main loop may have run
that same box already (measured on the 9 group photos of ``../shared/media/photos``: 6 boxes on
5 photos, 11 of the 133 body-model runs, 0.17 s of 6.7 s CPU on one thread).  The models are
deterministic functions of their input crop, so the stored result is what a second run would
return: the outputs do not change, only the repeated model runs go.

``ImageRuns`` holds the results for ONE image: ``start(image)`` begins a new image (and forgets
the last one's results); a call with another image object than the started one is run and not
stored (so a caller that runs an expert on some other image, e.g. a test on a turned copy,
never gets a stale answer).  Each call returns a deep copy, so a caller that edits a result
in place cannot change what a later caller gets.
"""

from __future__ import annotations

import copy
import weakref
from typing import Any, Callable

import numpy as np


class ImageRuns:
    """Results of deterministic experts on the current image, keyed by expert and arguments.

    ``runs.get(expert, image, *args)`` returns ``expert(image, *args)``; arguments are numbers
    or numpy arrays (compared by shape and bytes after conversion to float64).  ``enabled=False``
    runs every call (the unoptimised path, kept callable to check that reuse changes no output).
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._image: weakref.ref | None = None
        self._results: dict[tuple, Any] = {}
        self.hits = 0  # calls answered from a stored result since ``start`` (for tests and profiles)

    def start(self, image: np.ndarray) -> None:
        """Begin a new image: earlier results are forgotten (even for the same array object, whose
        pixels a video reader may have overwritten in place)."""
        self._results.clear()
        self.hits = 0
        try:
            self._image = weakref.ref(image)
        except TypeError:  # an object that takes no weak reference: nothing is reused
            self._image = None

    def get(self, expert: Callable, image: np.ndarray, *args) -> Any:
        """``expert(image, *args)``, run once per distinct ``args`` on the started image."""
        if not self.enabled or self._image is None or self._image() is not image:
            return expert(image, *args)
        key = (id(expert),) + tuple(_key(a) for a in args)
        if key in self._results:
            self.hits += 1
        else:
            self._results[key] = (expert, expert(image, *args))  # the expert is held so its id stays unique
        return copy.deepcopy(self._results[key][1])


def _key(value) -> tuple:
    """A hashable key of a number or array argument (float64 values, shape)."""
    array = np.asarray(value, dtype=np.float64)
    return array.shape, array.tobytes()
