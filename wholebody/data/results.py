"""Person -> JSON records of ``results.json`` (COCO-WholeBody) and ``results_3d.json``, and a
streaming, atomic JSON-list writer so a long video never holds all its results in memory.

A 2D record is a COCO-WholeBody result (``image_id``, ``category_id`` 1, the five flat
``x, y, score`` keypoint blocks, ``score``) plus, for the eval's per-part ranking, ``foot_score``,
``face_score``, ``lefthand_score``, ``righthand_score`` and ``wholebody_score`` (= ``score``), and
``person_box`` / ``face_box`` / ``lefthand_box`` / ``righthand_box`` (``[x, y, w, h]`` pixels, ``[0, 0, 0,
0]`` with ``*_valid`` false when the part was not found), ``track_id`` when set, and any extra
keys (``file_name``, ``frame``).  Pixel values are rounded to 0.01 px, scores to 1e-5.

The person box is deliberately not called ``bbox``: given a ``bbox``, COCO's ``loadRes`` takes
each result's area from it instead of from the body-keypoint extent, which would change the
medium/large split against the official protocol (mmpose writes no box).
"""

from __future__ import annotations

import os
from typing import Any, IO

import numpy as np
import orjson

from wholebody.data.atomic import AtomicOutput, atomic_open
from wholebody.data.cocowb import result_entry
from wholebody.data.errors import OutputError
from wholebody.schema import JSON_BOX_FIELDS, JSON_VALID_FIELDS, PARTS
from wholebody.types import Person

# Parts of Person.keypoints_3d written to results_3d.json, and the frame each one is in.
PARTS_3D = ("body", "face", "lefthand", "righthand")
FRAMES_3D = {
    "units": "metres",
    "axes": "camera-aligned: x right, y down, z away from the camera (right-handed)",
    "body_3d": "23 points (17 body + 6 foot, COCO-WholeBody order 0..22), relative to the mid-hip point",
    "face_3d": "68 points (iBUG 300-W order, COCO-WholeBody 23..90), relative to their centroid",
    "lefthand_3d": "21 points (wrist, thumb1..4 .. pinky1..4; COCO-WholeBody 91..111), relative to the wrist",
    "righthand_3d": "21 points (COCO-WholeBody 112..132), relative to the wrist",
    "missing": "null when the estimator gave no 3D for that part",
}


def _box(box: np.ndarray | None) -> list[float]:
    return [round(float(v), 2) for v in np.asarray(box, dtype=np.float64).ravel()[:4]]


def person_to_result(person: Person, image_id: int, **extra: Any) -> dict:
    """The results.json record of one person (fields in the module docstring).

    ``extra`` (e.g. ``file_name="a/b.jpg"``, ``frame=12``) is added last and may override.
    """
    keypoints = person.keypoints.copy()
    keypoints[:, :2] = np.round(keypoints[:, :2], 2)
    keypoints[:, 2] = np.round(keypoints[:, 2], 5)
    part_scores = {p: round(float(person.part_scores.get(p, person.part(p)[:, 2].mean())), 5) for p in PARTS}
    # An estimator may rank whole-body results by their own score (part_scores["wholebody"]).
    part_scores["wholebody"] = round(float(person.part_scores.get("wholebody", person.score)), 5)
    entry = result_entry(image_id, keypoints, round(float(person.score), 5), part_scores)
    if person.bbox is not None:
        entry["person_box"] = _box(person.bbox)
    for part, key in JSON_BOX_FIELDS.items():
        box = person.part_boxes.get(part)
        entry[key] = _box(box) if box is not None else [0.0, 0.0, 0.0, 0.0]
        entry[JSON_VALID_FIELDS[part]] = box is not None
    if person.track_id is not None:
        entry["track_id"] = int(person.track_id)
    entry.update(extra)
    return entry


def person_to_result_3d(person: Person, image_id: int, **extra: Any) -> dict:
    """The results_3d.json record of one person: ``<part>_3d`` arrays in metres (frames: FRAMES_3D)."""
    entry: dict[str, Any] = {"image_id": int(image_id)}
    entry.update(extra)
    entry["track_id"] = None if person.track_id is None else int(person.track_id)
    for part in PARTS_3D:
        points = person.keypoints_3d.get(part)
        entry[f"{part}_3d"] = None if points is None else np.round(np.asarray(points, dtype=np.float64), 5).tolist()
    return entry


class JsonListWriter(AtomicOutput):
    """Write a JSON list one item at a time into a temp file that replaces ``path`` on close.

    ``prefix`` / ``suffix`` wrap the list, so ``prefix=b'{"people": '`` and ``suffix=b"}"`` give
    an object holding the list.  Leaving the ``with`` block with an exception (or calling
    :meth:`abort`) deletes the temp file and keeps any previous ``path`` untouched.
    """

    def __init__(self, path: str | os.PathLike, prefix: bytes = b"", suffix: bytes = b"") -> None:
        self.path = path
        self._context = atomic_open(path, "wb")
        self._handle: IO[bytes] = self._context.__enter__()
        self._handle.write(prefix + b"[")
        self._suffix = suffix
        self._finished = False
        self.count = 0

    def append(self, item: Any) -> None:
        data = (b",\n" if self.count else b"\n") + orjson.dumps(item, option=orjson.OPT_SERIALIZE_NUMPY)
        try:
            self._handle.write(data)
        except OSError as err:  # e.g. a full disk: name the output, not the hidden temporary file
            raise OutputError.from_os_error(str(self.path), err) from err
        self.count += 1

    def finish(self) -> None:
        """Write the end of the list and force everything to disk, without replacing ``path``
        yet: what can fail for lack of space fails here, so several files can be finished
        first and then all replaced (:meth:`close`) in quick succession."""
        if self._finished:
            return
        try:
            self._handle.write(b"\n]" + self._suffix + b"\n")
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as err:
            raise OutputError.from_os_error(str(self.path), err) from err
        self._finished = True

    def close(self) -> None:
        self.finish()
        self._context.__exit__(None, None, None)

    def abort(self) -> None:
        error = RuntimeError("aborted")
        try:
            self._context.__exit__(RuntimeError, error, None)
        except (RuntimeError, OSError):  # the temporary file is gone either way
            pass


def open_results_3d(path: str | os.PathLike) -> JsonListWriter:
    """A writer for results_3d.json: ``{"coordinate_frames": FRAMES_3D, "people": [...]}``."""
    prefix = b'{"coordinate_frames": ' + orjson.dumps(FRAMES_3D) + b',\n"people": '
    return JsonListWriter(path, prefix=prefix, suffix=b"}")
