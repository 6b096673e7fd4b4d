"""H3WB (Human3.6M 3D WholeBody) adapter: mmpose's ``h3wb_*.npz`` -> 3D whole-body samples.

The file holds three 0-d object arrays (loaded with a numpy-only unpickler):

* ``train_data[subject][action]``: ``global_3d`` (F, 133, 3), ``frame_id`` (F,), and per camera
  ``camera_3d`` (F, 133, 3, camera coordinates), ``pose_2d`` (F, 133, 2, pixels);
* ``metadata[subject][camera]``: ``K``, ``R``, ``T``, ``Distortion``;
* ``bbox[(subject, action, camera, frame)]``: ``x_min, y_min, x_max, y_max``.

The 133 points are in COCO-WholeBody order.  H3WB ships no images (they are Human3.6M frames),
so ``image_path`` is None and ``record`` is ``subject/action/camera/frame``; such samples feed
anchor-pose clustering.  Each sample has one body, two hands and one face, all with 2D + 3D;
3D is in the units of the file (metres for the real dataset; the mmpose fixture holds random
numbers in [0, 1]).
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

from wholebody.data.adapters.h36m import NumpyOnlyUnpickler
from wholebody.data.adapters.sample import Sample, make_instance
from wholebody.data.errors import AnnotationError
from wholebody.models.dope.layout import WB_BODY23, WB_FACE68, WB_HAND21, DopeLayout, get_layout
from wholebody.schema import PART_SLICES


def _load_object(path: str, archive: zipfile.ZipFile, key: str):
    try:
        with archive.open(f"{key}.npy") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            read_header(handle)  # what follows the header of an object array is its pickle
            return NumpyOnlyUnpickler(handle).load().item()
    except KeyError:
        raise AnnotationError(path, None, key, "missing from the npz") from None
    except Exception as err:  # noqa: BLE001 (any decoding failure is a bad file)
        raise AnnotationError(path, None, key, f"cannot decode ({err})") from None


def _parts(layout: DopeLayout, points2d: np.ndarray, points3d: np.ndarray) -> list:
    visible = np.isfinite(points2d).all(axis=1) & np.isfinite(points3d).all(axis=1)
    out = []
    body = slice(0, PART_SLICES["foot"].stop)
    out.append(make_instance("body", layout.parts["body"], layout, points2d[body], visible[body], WB_BODY23,
                             points3d[body], visible[body], person=0))
    face = PART_SLICES["face"]
    out.append(make_instance("face", layout.parts["face"], layout, points2d[face], visible[face], WB_FACE68,
                             points3d[face], visible[face], person=0))
    for side, is_right in (("lefthand", False), ("righthand", True)):
        hand = PART_SLICES[side]
        out.append(make_instance("hand", layout.parts["hand"], layout, points2d[hand], visible[hand], WB_HAND21,
                                 points3d[hand], visible[hand], is_right=is_right, person=0))
    return out


def load_h3wb(path: str | os.PathLike, layout: str | DopeLayout = "wholebody") -> list[Sample]:
    """H3WB npz -> one sample per (subject, action, camera, frame)."""
    layout = get_layout(layout)
    file = str(path)
    try:
        archive = zipfile.ZipFile(file)
    except (OSError, zipfile.BadZipFile) as err:
        raise AnnotationError(file, None, None, f"not a readable npz ({err})") from None
    with archive:
        train = _load_object(file, archive, "train_data")
    samples = []
    for subject, actions in train.items():
        for action, record in actions.items():
            frames = np.asarray(record.get("frame_id", []))
            for camera, views in record.items():
                if camera in ("global_3d", "frame_id"):
                    continue
                cam3d, pose2d = np.asarray(views["camera_3d"], float), np.asarray(views["pose_2d"], float)
                if cam3d.shape[1:] != (133, 3) or pose2d.shape[1:] != (133, 2):
                    raise AnnotationError(file, f"{subject}/{action}/{camera}", "camera_3d/pose_2d",
                                          f"expected (F, 133, 3) and (F, 133, 2), got {cam3d.shape}, {pose2d.shape}")
                for f in range(len(cam3d)):
                    frame = int(frames[f]) if f < len(frames) else f
                    samples.append(Sample("h3wb", f"{subject}/{action}/{camera}/{frame}", None, None,
                                          _parts(layout, pose2d[f], cam3d[f]), frozenset({"body", "hand", "face"})))
    return samples
