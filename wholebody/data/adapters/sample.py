"""The common per-image training sample every DOPE data adapter produces.

A :class:`Sample` is one image (or one video frame) with zero or more :class:`PartInstance`
labels: one body, hand or face each, with its 2D pose in pixels of the original image and,
where the dataset has it, its 3D pose in metres, in the part's frame of the chosen
``DopeLayout`` (body: relative to the mid-hip, hand: to the wrist, face: to the landmark
centroid; camera axes x right, y down, z away).  Per-joint masks say which points are labelled;
points the dataset's layout lacks are masked out.

``labelled_parts`` names the parts the dataset annotates *exhaustively* on that image: for those
the real labels are the ground truth; the other parts are left to the part experts (Eq. 1 of
DOPE, ``wholebody.train.dope.pseudo``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import orjson

from wholebody.data.errors import AnnotationError
from wholebody.schema import KeypointLayout

log = logging.getLogger(__name__)

BOX_MARGIN = 0.1


@dataclass
class PartInstance:
    """One labelled body, hand or face.

    Attributes:
        part: ``"body"``, ``"hand"`` or ``"face"``.
        pose2d: (J, 2) pixels of the original image; visible2d: (J,) bool.
        pose3d: (J, 3) metres in the part's frame, or None; visible3d: (J,) bool or None.
        box: (4,) x1y1x2y2 pixels (pose box, 10 % margin per side, or the dataset's box), or None.
        is_right: hands only.
        person: index linking the parts of one person within the image, or None.
        score: 1 for real labels; an expert's confidence for pseudo-labels.
    """

    part: str
    pose2d: np.ndarray
    visible2d: np.ndarray
    pose3d: np.ndarray | None = None
    visible3d: np.ndarray | None = None
    box: np.ndarray | None = None
    is_right: bool | None = None
    person: int | None = None
    score: float = 1.0


@dataclass
class Sample:
    """One training image and its labels.

    Attributes:
        source: dataset name (``"h36m"``, ``"rhd"``, ...).
        record: the dataset's id for this image (for error messages and logs).
        image_path: the image file, or None (3D-only records such as H3WB).
        image_size: (H, W) when the dataset states it, else None.
        instances: the labels.
        labelled_parts: parts annotated exhaustively on this image (module docstring).
        frame_index: for a video frame, its index; None for still images.
    """

    source: str
    record: str
    image_path: Path | None
    image_size: tuple[int, int] | None
    instances: list[PartInstance] = field(default_factory=list)
    labelled_parts: frozenset[str] = frozenset()
    frame_index: int | None = None


def skip_or_raise(err: AnnotationError, errors: list[str] | None) -> None:
    """Record-level error policy of every adapter: raise it, or (``errors`` given) log it, append
    its message and let the caller skip that record."""
    if errors is None:
        raise err
    log.warning("skipping bad record: %s", err)
    errors.append(str(err))


def read_json_object(path: str | Path) -> dict:
    """Parse a JSON file whose top level must be an object; errors name the file."""
    try:
        data = orjson.loads(Path(path).read_bytes())
    except OSError as err:
        raise AnnotationError(str(path), None, None, f"cannot read file ({err.strerror or err})") from None
    except orjson.JSONDecodeError as err:
        raise AnnotationError(str(path), None, None, f"not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise AnnotationError(str(path), None, None, f"top level must be an object, got {type(data).__name__}")
    return data


def index_images(path: str | Path, data: dict) -> dict:
    """``images`` list -> {id: image record}; a missing list or id is an error naming the file."""
    images = data.get("images")
    if not isinstance(images, list):
        raise AnnotationError(str(path), None, "images", "missing or not a list")
    out = {}
    for image in images:
        if not isinstance(image, dict) or "id" not in image or "file_name" not in image:
            raise AnnotationError(str(path), None, "images", f"image record without id/file_name: {str(image)[:80]}")
        out[image["id"]] = image
    return out


def samples_per_image(path: str | Path, source: str, part: str,
                      instance_of: Callable[[str, dict, dict], PartInstance], errors: list[str] | None) -> list[Sample]:
    """One ``Sample`` per image of a COCO-style JSON (``images`` + ``annotations``), labelled for ``part``.

    ``instance_of(file, annotation, images)`` builds one annotation's instance or raises
    :class:`AnnotationError`; such an annotation raises, or, when ``errors`` is a list, is logged,
    appended to it and skipped together with its image (never a silent change of data).
    """
    file = str(path)
    data = read_json_object(path)
    images = index_images(file, data)
    found, bad_images = defaultdict(list), set()
    for ann in data.get("annotations", []):
        try:
            instance = instance_of(file, ann, images)
        except AnnotationError as err:
            skip_or_raise(err, errors)
            bad_images.add(ann.get("image_id"))
            continue
        found[ann["image_id"]].append(instance)
    root = Path(file).parent
    return [Sample(source, str(image_id), root / image["file_name"], (int(image["height"]), int(image["width"])),
                   found.get(image_id, []), frozenset({part})) for image_id, image in images.items() if image_id not in bad_images]


def layout_index(source: KeypointLayout, target: KeypointLayout) -> np.ndarray:
    """For each ``target`` point, the ``source`` point with the same COCO-WholeBody index (or,
    for points outside the 133 layout, the same name), else -1."""
    by_wholebody = {int(w): i for i, w in enumerate(source.to_wholebody) if w >= 0}
    by_name = {n: i for i, n in enumerate(source.keypoints)}
    index = np.full(target.num_keypoints, -1, dtype=np.int64)
    for j, (w, name) in enumerate(zip(target.to_wholebody, target.keypoints)):
        if w >= 0 and int(w) in by_wholebody:
            index[j] = by_wholebody[int(w)]
        elif w < 0 and name in by_name:
            index[j] = by_name[name]
    return index


def convert_points(points: np.ndarray, visible: np.ndarray, source: KeypointLayout, target: KeypointLayout
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(J_s, C) points + (J_s,) mask in ``source`` order -> (J_t, C) + (J_t,) in ``target`` order."""
    index = layout_index(source, target)
    found = index >= 0
    out = np.zeros((target.num_keypoints, points.shape[-1]))
    out[found] = points[index[found]]
    mask = np.zeros(target.num_keypoints, bool)
    mask[found] = np.asarray(visible, bool)[index[found]]
    return out, mask


def pose_box(pose2d: np.ndarray, visible: np.ndarray, margin: float = BOX_MARGIN) -> np.ndarray | None:
    """x1y1x2y2 around the visible points, grown by ``margin`` x size per side; None if < 2 points
    or a degenerate extent."""
    points = pose2d[np.asarray(visible, bool)]
    if len(points) < 2:
        return None
    low, high = points.min(0), points.max(0)
    if np.any(high - low <= 0):
        return None
    pad = margin * (high - low)
    return np.concatenate([low - pad, high + pad])


def xywh_to_xyxy(box) -> np.ndarray:
    x, y, w, h = (float(v) for v in box)
    return np.array([x, y, x + w, y + h])


def relative_3d(points3d: np.ndarray, visible3d: np.ndarray, root: np.ndarray) -> np.ndarray:
    """Subtract the part's root; masked-out points are set to 0 so they can never leak."""
    return np.where(np.asarray(visible3d, bool)[:, None], points3d - root, 0.0)


def make_instance(part: str, layout_part: KeypointLayout, dope_layout, pose2d, visible2d, source_layout: KeypointLayout,
                  pose3d=None, visible3d=None, fallback_box=None, **extra) -> PartInstance:
    """Convert one labelled part from its dataset layout to ``dope_layout`` (2D and 3D).

    3D is made root-relative with ``dope_layout.root_3d``; if a root joint is missing, the 3D is
    dropped (mask all False) rather than guessed.
    """
    pose2d, visible2d = convert_points(np.asarray(pose2d, float), visible2d, source_layout, layout_part)
    out3d = vis3d = None
    if pose3d is not None:
        out3d, vis3d = convert_points(np.asarray(pose3d, float), visible3d, source_layout, layout_part)
        if _root_visible(part, vis3d, dope_layout):
            if part == "face":  # the centroid of the labelled landmarks
                root = out3d[vis3d].mean(axis=0)
            else:
                root = dope_layout.root_3d(part, out3d)
            out3d = relative_3d(out3d, vis3d, root)
        else:
            out3d, vis3d = np.zeros_like(out3d), np.zeros_like(vis3d)
    box = pose_box(pose2d, visible2d)
    if box is None and fallback_box is not None:
        box = np.asarray(fallback_box, float)
    return PartInstance(part, pose2d, visible2d, out3d, vis3d, box, **extra)


def _root_visible(part: str, visible3d: np.ndarray, dope_layout) -> bool:
    if part == "body":
        return bool(visible3d[list(dope_layout.body_hips)].all())
    if part == "hand":
        return bool(visible3d[dope_layout.hand_wrist])
    return bool(visible3d.any())
