"""What ``wholebody predict`` will process: the work items, their image ids, boxes and output names.

Image ids: with ``--coco ANN.json`` each image listed there (``file_name`` relative to the one
INPUT folder) keeps its ``id``, so ``wholebody eval ANN.json results.json`` scores the run;
otherwise ids are assigned 1, 2, ... in processing order (one per image and per video frame) and
``images.json`` maps them to file names.

``--boxes`` takes a COCO detections list (``[{"image_id" | "file_name", "bbox": [x, y, w, h],
"score", "category_id"}, ...]``): boxes of category 1 (or with no category) and score >=
``box_thr`` are given to the estimator instead of its own person detector.  An image the file
does not mention gets no boxes (a detector's output simply omits images where it found nobody).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, replace
from pathlib import Path, PurePath, PurePosixPath
from typing import Sequence

import numpy as np
import orjson

from wholebody.data.errors import AnnotationError
from wholebody.data.inputs import InputSource, iter_inputs, kind_of, unreachable_reason


@dataclass(frozen=True)
class WorkItem:
    """One input to process.

    Attributes:
        source: the file (or the argument that found nothing).
        image_id: fixed id from ``--coco``, or None to number it in processing order.
        boxes: (N, 4) person boxes ``[x, y, w, h]`` in pixels from ``--boxes``, or None to detect.
        box_scores: (N,) detector scores of ``boxes`` (1 where the file gives none), or None.
        output_stem: relative path without extension for this input's overlay / plot files.
    """

    source: InputSource
    image_id: int | None = None
    boxes: np.ndarray | None = None
    box_scores: np.ndarray | None = None
    output_stem: str = ""


def _inside_output(name: str) -> str:
    """``name`` with any root, drive, ``.`` or ``..`` removed, so outputs stay inside --out."""
    parts = [part for part in PurePath(name).parts if part not in (".", "..") and not PurePath(part).anchor]
    return PurePosixPath(*parts).as_posix() if parts else "unnamed"


def _with_output_stems(items: list[WorkItem]) -> list[WorkItem]:
    """Output stem = name without extension, or the full name where two stems would collide."""
    names = [_inside_output(item.source.name) for item in items]
    stems = [str(PurePosixPath(name).with_suffix("")) for name in names]
    unique = {stem for stem in stems if stems.count(stem) == 1}
    return [replace(item, output_stem=stem if stem in unique else name) for item, stem, name in zip(items, stems, names)]


def plan_from_inputs(inputs: Sequence[str | os.PathLike], exclude: Sequence[str | os.PathLike] = ()) -> list[WorkItem]:
    """Work items for INPUT arguments (files, folders, globs, videos)."""
    return _with_output_stems([WorkItem(source) for source in iter_inputs(inputs, exclude)])


def plan_from_coco(folder: str | os.PathLike, coco_path: str | os.PathLike) -> list[WorkItem]:
    """Work items for the images listed in a COCO annotation file, under ``folder``, in file order.

    Raises:
        AnnotationError: the file cannot be read or its ``images`` list is not valid.  Only
        ``images`` is read, so any COCO-style file (COCO-17, CrowdPose, ...) works.
    """
    from wholebody.data.keypoint_files import read_image_list

    items = []
    for image_id, record in read_image_list(coco_path).items():
        name = record.get("file_name")
        if not isinstance(name, str) or not name:
            raise AnnotationError(coco_path, image_id, "file_name", "missing or not a string")
        path = Path(folder) / name
        kind = kind_of(path) or "image"
        source = InputSource(path, name, kind) if path.is_file() else InputSource(path, name, "missing",
                                                                                    _not_a_file_reason(path))
        items.append(WorkItem(source, image_id=int(image_id)))
    return _with_output_stems(items)


def _not_a_file_reason(path: Path) -> str:
    """Why a listed image is not a readable file: its real reason (a symlink loop, a folder, a
    permission), so that "no such file" is said only when there is none."""
    try:
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ENOENT and not path.is_symlink():
            return "no such file"
        return unreachable_reason(path)
    return "a folder, not an image file" if path.is_dir() else "not a regular file"


def attach_boxes(items: list[WorkItem], boxes_path: str | os.PathLike, box_thr: float = 0.0) -> list[WorkItem]:
    """Give each image item its person boxes from a detections file (module docstring).

    Raises:
        AnnotationError: unreadable file, bad record, or an ``image_id`` key while ids are not fixed.
    """
    try:
        records = orjson.loads(Path(boxes_path).read_bytes())
    except (OSError, orjson.JSONDecodeError) as err:
        raise AnnotationError(boxes_path, None, None, f"cannot read the boxes file: {err}") from err
    if not isinstance(records, list):
        raise AnnotationError(boxes_path, None, None, "a boxes file must be a JSON list of detections")
    by_id, by_name = {}, {}
    for index, record in enumerate(records):
        box, key = _parse_box(boxes_path, index, record)
        score = record.get("score", 1.0)
        if record.get("category_id", 1) != 1 or score < box_thr:
            continue
        table = by_name if isinstance(key, str) else by_id
        table.setdefault(key, []).append(box + [float(score)])
    if by_id and any(item.image_id is None for item in items if item.source.kind == "image"):
        raise AnnotationError(boxes_path, None, "image_id",
                              "boxes keyed by image_id need --coco to fix the image ids; key them by file_name instead")
    out = []
    for item in items:
        if item.source.kind == "image":
            found = np.array(by_name.get(item.source.name, []) + by_id.get(item.image_id, []), dtype=np.float64)
            found = found.reshape(-1, 5)
            item = replace(item, boxes=found[:, :4], box_scores=found[:, 4])
        out.append(item)
    return out


def _parse_box(path, index: int, record) -> tuple[list[float], int | str]:
    if not isinstance(record, dict):
        raise AnnotationError(path, index, None, "a detection must be a JSON object")
    box = record.get("bbox")
    if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box)):
        raise AnnotationError(path, index, "bbox", f"must be 4 numbers [x, y, w, h], got {box!r}")
    if not all(np.isfinite(box)) or box[2] < 0 or box[3] < 0:
        raise AnnotationError(path, index, "bbox", f"must be finite with w, h >= 0, got {box!r}")
    score = record.get("score", 1.0)
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not np.isfinite(score):
        raise AnnotationError(path, index, "score", f"must be a finite number, got {score!r}")
    if isinstance(record.get("file_name"), str):
        return [float(v) for v in box], record["file_name"]
    if isinstance(record.get("image_id"), int):
        return [float(v) for v in box], record["image_id"]
    raise AnnotationError(path, index, "image_id", "each detection needs an integer image_id or a file_name")
