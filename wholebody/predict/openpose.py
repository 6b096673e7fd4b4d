"""OpenPose-format output: one ``<name>_keypoints.json`` per image or video frame.

What Pose2Sim, Sports2D and other OpenPose readers load (``--write_json`` of OpenPose 1.7)::

    {"version": 1.3, "people": [{"person_id": [-1],
        "pose_keypoints_2d": [x, y, c] * 25,          # BODY_25, pixels of the original image
        "face_keypoints_2d": [x, y, c] * 70,          # iBUG 68 + 2 pupils
        "hand_left_keypoints_2d": [x, y, c] * 21, "hand_right_keypoints_2d": [x, y, c] * 21,
        "pose_keypoints_3d": [x, y, z, c] * 25 or [], "face_keypoints_3d": ..., "hand_*_keypoints_3d": ...}]}

The point maps are in :mod:`wholebody.schema.openpose`.  As in OpenPose, a point with score 0 is
written as ``0, 0, 0``.  ``person_id`` is ``[track_id]`` in a tracked video, else ``[-1]``.
The ``*_3d`` arrays hold metres in this project's part frames (body root-relative at the hip
mid-point, hands relative to their wrist, face to its centroid; camera axes x right, y down,
z away), scored with the matching 2D score; they are ``[]`` when the estimator gave no 3D for
that part.  (OpenPose's own 3D module writes calibrated world coordinates, so its numbers are
not comparable; the layout is the same.)

File names follow OpenPose: an image ``dir/a.jpg`` gives ``openpose/dir/a_keypoints.json``; frame
``k`` of video ``dir/clip.mp4`` gives ``openpose/dir/clip_json/clip_<k, 12 digits>_keypoints.json``
(one folder per video, as Pose2Sim expects one ``*_json`` folder per camera).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Sequence

import numpy as np
import orjson

from wholebody.data.atomic import atomic_write_bytes
from wholebody.schema.openpose import (
    FACE_START,
    LEFT_HAND_START,
    RIGHT_HAND_START,
    body25_from_wholebody,
    face70_from_ibug68,
)
from wholebody.types import Person

OPENPOSE_VERSION = 1.3
OPENPOSE_FOLDER = "openpose"


def _flat(points: np.ndarray, decimals: int) -> list[float]:
    """OpenPose's flat list; rows whose score (last column) is 0 become all zeros."""
    points = np.where(points[:, -1:] > 0, points, 0.0)
    return np.round(points, decimals).ravel().tolist()


def _with_scores(points_3d: np.ndarray | None, scores: np.ndarray) -> np.ndarray | None:
    if points_3d is None:
        return None
    points_3d = np.asarray(points_3d, dtype=np.float64)
    return np.concatenate([points_3d, scores[: len(points_3d), None]], axis=1)


def person_to_openpose(person: Person) -> dict:
    """One entry of OpenPose's ``people`` list (layout in the module docstring)."""
    points = person.keypoints
    face = points[FACE_START:LEFT_HAND_START]
    left, right = points[LEFT_HAND_START:RIGHT_HAND_START], points[RIGHT_HAND_START:]
    entry = {
        "person_id": [-1 if person.track_id is None else int(person.track_id)],
        "pose_keypoints_2d": _flat(body25_from_wholebody(points), 3),
        "face_keypoints_2d": _flat(face70_from_ibug68(face), 3),
        "hand_left_keypoints_2d": _flat(left, 3),
        "hand_right_keypoints_2d": _flat(right, 3),
    }
    parts_3d = person.keypoints_3d
    body = _with_scores(parts_3d.get("body"), points[:23, 2])
    face_3d = _with_scores(parts_3d.get("face"), face[:, 2])
    left_3d = _with_scores(parts_3d.get("lefthand"), left[:, 2])
    right_3d = _with_scores(parts_3d.get("righthand"), right[:, 2])
    entry["pose_keypoints_3d"] = [] if body is None else _flat(body25_from_wholebody(body), 5)
    entry["face_keypoints_3d"] = [] if face_3d is None else _flat(face70_from_ibug68(face_3d), 5)
    entry["hand_left_keypoints_3d"] = [] if left_3d is None else _flat(left_3d, 5)
    entry["hand_right_keypoints_3d"] = [] if right_3d is None else _flat(right_3d, 5)
    return entry


def openpose_document(people: Sequence[Person]) -> dict:
    """The whole ``*_keypoints.json`` object of one image or frame."""
    return {"version": OPENPOSE_VERSION, "people": [person_to_openpose(person) for person in people]}


def openpose_path(out_dir: str | Path, output_stem: str, frame: int | None = None) -> Path:
    """Where the file of an input (``output_stem`` from the plan) or of its video ``frame`` goes."""
    stem = PurePosixPath(output_stem)
    folder = Path(out_dir) / OPENPOSE_FOLDER
    if frame is None:
        return folder / stem.parent / f"{stem.name}_keypoints.json"
    return folder / stem.parent / f"{stem.name}_json" / f"{stem.name}_{frame:012d}_keypoints.json"


def write_openpose(path: Path, people: Sequence[Person]) -> None:
    """Write one OpenPose file atomically."""
    atomic_write_bytes(path, orjson.dumps(openpose_document(people)))


class OpenPoseWriter:
    """Writes the OpenPose file of every image / frame through ``tasks`` (a BackgroundTasks)."""

    def __init__(self, out_dir: str | Path, tasks) -> None:
        self.out_dir, self.tasks = Path(out_dir), tasks

    def add(self, item, people: Sequence[Person], frame: int | None = None) -> None:
        path = openpose_path(self.out_dir, item.output_stem, frame)
        # Serialised here, so the background task holds bytes, not Person objects the caller owns.
        data = orjson.dumps(openpose_document(people))
        self.tasks.submit(str(path), atomic_write_bytes, path, data)
