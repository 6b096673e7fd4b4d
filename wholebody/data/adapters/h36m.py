"""Human3.6M adapters: mmpose's 3D body ``.npz``, its COCO-style JSON, and ``cameras.pkl``.

Joint order (17, checked on the 3D data): 0 pelvis, 1-3 right hip/knee/ankle, 4-6 left
hip/knee/ankle, 7 spine, 8 thorax, 9 neck base, 10 head (top), 11-13 left shoulder/elbow/wrist,
14-16 right shoulder/elbow/wrist.  The names inside ``h36m_coco.json`` swap left and right legs
and are ignored.

* ``.npz``: ``imgname`` (paths relative to the file's folder), ``part`` (17, 3) 2D pixels +
  visibility, ``S`` (17, 4) 3D *camera* coordinates in metres + visibility.
* JSON: ``keypoints`` 17 x 3 (2D) and ``keypoints_3d`` 17 x 4 in *world* metres; with the
  cameras they become camera coordinates: ``X_cam = R^T (X_world - T)`` (R, T of the camera
  named by the image's ``<subject>_<action>.<camera>_<frame>.jpg`` file name).  Images sit in
  ``<subject>/<file name without the frame suffix>/``.
* ``cameras.pkl``: dict keyed ``(subject, camera_id)``; it is read with an unpickler that only
  accepts numpy's array-rebuilding globals, so a tampered file cannot run code.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from wholebody.data.adapters.sample import Sample, index_images, make_instance, read_json_object, skip_or_raise
from wholebody.data.errors import AnnotationError
from wholebody.models.dope.layout import DopeLayout, get_layout
from wholebody.schema import KeypointLayout

H36M17 = KeypointLayout(
    name="h36m17",
    keypoints=("pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "spine",
               "thorax", "neck_base", "head", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
               "right_elbow", "right_wrist"),
    parts={"body": slice(0, 17)},
    flip_pairs=((1, 4), (2, 5), (3, 6), (11, 14), (12, 15), (13, 16)),
    skeleton=((0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8), (8, 9), (9, 10), (8, 11), (11, 12),
              (12, 13), (8, 14), (14, 15), (15, 16)),
    # COCO-WholeBody indices; pelvis, spine, thorax, neck base and head top have none.
    to_wholebody=[-1, 12, 14, 16, 11, 13, 15, -1, -1, -1, -1, 5, 7, 9, 6, 8, 10],
)

_NUMPY_GLOBALS = {
    ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that refuses every global except numpy's array and scalar rebuilders."""

    def find_class(self, module: str, name: str):  # noqa: ANN201 (pickle's signature)
        if (module, name) not in _NUMPY_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}: only numpy arrays are allowed")
        return super().find_class(module, name)


def load_cameras(path: str | os.PathLike) -> dict[tuple[str, str], dict]:
    """Human3.6M ``cameras.pkl`` -> {(subject, camera_id): {R, T, f, c, k, p, w, h, name, id}}."""
    try:
        with open(path, "rb") as handle:
            cameras = NumpyOnlyUnpickler(handle).load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError) as err:
        raise AnnotationError(str(path), None, None, f"cannot read the camera file ({err})") from None
    if not isinstance(cameras, dict):
        raise AnnotationError(str(path), None, None, f"expected a dict of cameras, got {type(cameras).__name__}")
    return cameras


def world_to_camera(points: np.ndarray, camera: dict) -> np.ndarray:
    """(J, 3) world metres -> camera metres, Human3.6M convention ``R^T (X - T)``."""
    rotation = np.asarray(camera["R"], float)
    translation = np.asarray(camera["T"], float).reshape(1, 3)
    return (points - translation) @ rotation


def _body(layout: DopeLayout, pose2d, vis2d, pose3d, vis3d, box=None):
    return make_instance("body", layout.parts["body"], layout, pose2d, vis2d, H36M17, pose3d, vis3d, fallback_box=box, person=0)


def load_h36m_npz(path: str | os.PathLike, layout: str | DopeLayout = "wholebody",
                  errors: list[str] | None = None) -> list[Sample]:
    """mmpose's Human3.6M 3D ``.npz`` -> one sample per frame (body 2D + 3D); ``errors``: see ``rhd.load_rhd``."""
    layout = get_layout(layout)
    path = Path(path)
    try:
        data = np.load(path)
        names, part, joints3d = data["imgname"], data["part"], data["S"]
    except (OSError, KeyError, ValueError) as err:
        raise AnnotationError(str(path), None, None, f"not a Human3.6M npz with imgname/part/S ({err})") from None
    if part.shape[1:] != (17, 3) or joints3d.shape[1:] != (17, 4) or not len(names) == len(part) == len(joints3d):
        raise AnnotationError(str(path), None, "part", f"expected (N, 17, 3) and (N, 17, 4), got {part.shape}, {joints3d.shape}")
    samples = []
    for i, name in enumerate(names):
        if not (np.isfinite(part[i]).all() and np.isfinite(joints3d[i]).all()):
            skip_or_raise(AnnotationError(str(path), str(name), "part/S", "NaN or inf in the keypoints"), errors)
            continue
        body = _body(layout, part[i, :, :2], part[i, :, 2] > 0, joints3d[i, :, :3], joints3d[i, :, 3] > 0)
        samples.append(Sample("h36m", str(name), path.parent / str(name), None, [body], frozenset({"body"})))
    return samples


def _subject_camera(file_name: str) -> tuple[str, str, str]:
    """``S1_Directions_1.54138969_000001.jpg`` -> ("S1", "54138969", "S1_Directions_1.54138969")."""
    stem = file_name.rsplit("_", 1)[0]
    subject = stem.split("_", 1)[0]
    camera = stem.rsplit(".", 1)[-1]
    return subject, camera, stem


def load_h36m_coco(path: str | os.PathLike, cameras: dict | str | os.PathLike,
                   layout: str | DopeLayout = "wholebody", errors: list[str] | None = None) -> list[Sample]:
    """mmpose's ``h36m_coco.json`` (+ cameras) -> one sample per image (body 2D + camera 3D).

    ``errors``: see ``rhd.load_rhd``.
    """
    layout = get_layout(layout)
    if not isinstance(cameras, dict):
        cameras = load_cameras(cameras)
    file = str(path)
    data = read_json_object(path)
    root = Path(file).parent
    images = index_images(file, data)
    samples = []
    for ann in data.get("annotations", []):
        try:
            samples.append(_coco_record(file, ann, images, cameras, layout, root))
        except AnnotationError as err:
            skip_or_raise(err, errors)
    return samples


def _coco_record(file: str, ann: dict, images: dict, cameras: dict, layout: DopeLayout, root: Path) -> Sample:
    record = ann.get("id")
    image = images.get(ann.get("image_id"))
    if image is None:
        raise AnnotationError(file, record, "image_id", "image id is not in 'images'")
    try:
        kp2d = np.asarray(ann["keypoints"], float).reshape(17, 3)
        kp3d = np.asarray(ann["keypoints_3d"], float).reshape(17, 4)
    except (KeyError, ValueError, TypeError) as err:
        raise AnnotationError(file, record, "keypoints/keypoints_3d", f"expected 17 x 3 and 17 x 4 numbers ({err})") from None
    subject, camera_id, folder = _subject_camera(str(image["file_name"]))
    camera = cameras.get((subject, camera_id))
    if camera is None:
        raise AnnotationError(file, record, "file_name", f"no camera ({subject}, {camera_id}) in the camera file")
    cam3d = world_to_camera(kp3d[:, :3], camera)
    bx, by, bw, bh = ann.get("bbox", (0, 0, 0, 0))
    body = _body(layout, kp2d[:, :2], kp2d[:, 2] > 0, cam3d, kp3d[:, 3] > 0, np.array([bx, by, bx + bw, by + bh]))
    return Sample("h36m", str(record), root / subject / folder / image["file_name"],
                  (int(image["height"]), int(image["width"])), [body], frozenset({"body"}))
