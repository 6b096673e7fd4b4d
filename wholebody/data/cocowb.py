"""COCO-WholeBody ground truth and results: load, validate, write.

Files are parsed once with orjson and turned into column arrays (one row per person), which the
evaluator, the data pipeline and the CLIs share.  Validation is strict: a wrong block length,
NaN/inf, a non-numeric value, a missing or duplicate id, or a result for an image the ground
truth does not know raises :class:`~wholebody.data.errors.AnnotationError` naming the file,
the record and the field.  Nothing is silently dropped or coerced.

Coordinates are pixels of the original image (COCO convention); boxes are ``[x, y, w, h]``.
"""

from __future__ import annotations

import gc
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import orjson

from wholebody.data import validate as v
from wholebody.data.atomic import atomic_write_bytes
from wholebody.data.errors import AnnotationError
from wholebody.schema import (
    EVAL_PARTS,
    JSON_BOX_FIELDS,
    JSON_KEYPOINT_FIELDS,
    JSON_SCORE_FIELDS,
    JSON_VALID_FIELDS,
    PART_SLICES,
    PARTS,
)
from wholebody.schema.formats import COCO_WHOLEBODY_FORMAT, KeypointFormat

Source = str | os.PathLike | dict | list


@dataclass
class PersonAnnotation:
    """One ground-truth person (a view of one row of :class:`GroundTruth`)."""

    id: int
    image_id: int
    keypoints: np.ndarray  # (133, 3): x, y, visibility (v > 0 = labelled)
    bbox: np.ndarray  # (4,) xywh
    area: float  # NaN when the record has none
    iscrowd: bool
    part_boxes: dict[str, np.ndarray]  # face / lefthand / righthand -> (4,) xywh
    part_valid: dict[str, bool]  # foot / face / lefthand / righthand


@dataclass
class GroundTruth:
    """A COCO-style keypoint ground-truth file as column arrays (N people, file order).

    ``keypoints`` are in ``format.layout``'s order: the 133 COCO-WholeBody points unless the
    file was read with :func:`wholebody.data.keypoint_files.load_keypoint_ground_truth`.
    """

    path: str
    images: dict[int, dict]
    categories: list[dict]
    ann_ids: np.ndarray  # (N,) int64
    image_ids: np.ndarray  # (N,) int64
    category_ids: np.ndarray  # (N,) int64
    keypoints: np.ndarray  # (N, 133, 3) float64
    bbox: np.ndarray  # (N, 4) float64
    area: np.ndarray  # (N,) float64, NaN where absent
    iscrowd: np.ndarray  # (N,) bool
    part_boxes: dict[str, np.ndarray] = field(default_factory=dict)  # part -> (N, 4)
    part_valid: dict[str, np.ndarray] = field(default_factory=dict)  # part -> (N,) bool
    format: KeypointFormat = COCO_WHOLEBODY_FORMAT
    # (N,) int64 ``num_keypoints`` of each record, -1 where absent; read for CrowdPose's ignore rule.
    num_keypoints: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ann_ids)

    def person(self, i: int) -> PersonAnnotation:
        return PersonAnnotation(
            id=int(self.ann_ids[i]),
            image_id=int(self.image_ids[i]),
            keypoints=self.keypoints[i],
            bbox=self.bbox[i],
            area=float(self.area[i]),
            iscrowd=bool(self.iscrowd[i]),
            part_boxes={p: b[i] for p, b in self.part_boxes.items()},
            part_valid={p: bool(f[i]) for p, f in self.part_valid.items()},
        )

    def people(self) -> Iterable[PersonAnnotation]:
        return (self.person(i) for i in range(len(self)))


@dataclass
class Results:
    """A COCO-WholeBody results list as column arrays (M results, file order).

    ``scores[part]`` is the ranking score of each result for an evaluated part: the part's own
    field (``foot_score`` ...) or, per record, the fallback ``score`` (as xtcocotools does);
    ``score_fallback[part]`` counts the records that fell back.
    """

    path: str
    image_ids: np.ndarray  # (M,) int64
    category_ids: np.ndarray  # (M,) int64
    keypoints: np.ndarray  # (M, 133, 3) float64, third channel = keypoint score
    scores: dict[str, np.ndarray]
    score_fallback: dict[str, int]
    # Per-result area for the medium/large split, set only when the file carries boxes (see
    # result_areas); None means the evaluator uses the body-keypoint extent, as loadRes does.
    area: np.ndarray | None = None
    # (K,) bool: the ground-truth layout's points these results have (None = all).  Results
    # converted from another layout lack some points; the evaluator does not score those.
    scored_points: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.image_ids)


@contextmanager
def _no_gc():
    """Pause the cyclic garbage collector while parsing.

    Parsing creates tens of millions of container objects and none of them forms a cycle; left
    on, the collector re-scans the growing heap again and again (measured: 5.1 s -> 3.1 s CPU
    for a 60k-result file).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read(source: Source) -> tuple[str, Any]:
    if isinstance(source, (dict, list)):
        return "<memory>", source
    path = str(source)
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise AnnotationError(path, None, None, f"cannot read file ({err.strerror or err})") from None
    try:
        return path, orjson.loads(data)
    except orjson.JSONDecodeError as err:
        try:  # NaN / Infinity are not JSON, but Python's json writes them: parse so the check names the record
            return path, json.loads(data)
        except ValueError:
            raise AnnotationError(path, None, None, f"not valid JSON ({err})") from None


def read_json_file(path: str | Path) -> Any:
    """A JSON file's content; ``NaN`` / ``Infinity`` / out-of-range numbers are read (as float
    nan / inf) so that validation can name the record that holds them.  Raises AnnotationError."""
    return _read(str(path))[1]


def load_ground_truth(source: Source) -> GroundTruth:
    """Load and validate a COCO-WholeBody ground-truth file (path or already-parsed dict)."""
    with _no_gc():
        return _ground_truth(*_read(source))


def _ground_truth(path: str, data: Any, fmt: KeypointFormat = COCO_WHOLEBODY_FORMAT,
                  blocks=v.WHOLEBODY_BLOCKS) -> GroundTruth:
    """Validate a parsed ground-truth file whose keypoints are ``blocks`` in ``fmt``'s order;
    the COCO-WholeBody part boxes and valid flags are read only with the five blocks."""
    if not isinstance(data, dict):
        raise AnnotationError(path, None, None, f"top level must be an object, got {type(data).__name__}")
    images = v.index_images(path, data)
    anns = v.require_list(path, data, "annotations")
    categories = data.get("categories", [])
    ids = v.int_column(path, anns, "id", None)
    v.check_unique(path, ids, "annotations", "id")
    image_ids = v.int_column(path, anns, "image_id", ids)
    unknown = ~np.isin(image_ids, np.fromiter(images, dtype=np.int64, count=len(images)))
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise AnnotationError(path, int(ids[i]), "image_id", f"image id {int(image_ids[i])} is not in 'images'")
    keypoints = v.keypoint_blocks(path, anns, ids, visibility=True, blocks=blocks)
    wholebody_blocks = blocks == v.WHOLEBODY_BLOCKS
    return GroundTruth(
        path=path,
        images=images,
        categories=categories if isinstance(categories, list) else [],
        ann_ids=ids,
        image_ids=image_ids,
        category_ids=v.int_column(path, anns, "category_id", ids),
        keypoints=keypoints,
        bbox=v.float_rows(path, anns, "bbox", 4, ids, default=None),
        area=v.float_column(path, anns, "area", ids, default=np.nan, nonnegative=True),
        iscrowd=v.flag_column(path, anns, "iscrowd", ids, default=False),
        part_boxes={p: v.float_rows(path, anns, f, 4, ids, default=np.zeros(4))
                    for p, f in JSON_BOX_FIELDS.items()} if wholebody_blocks else {},
        part_valid={p: _valid_flags(path, anns, p, ids, keypoints) for p in JSON_VALID_FIELDS} if wholebody_blocks else {},
        format=fmt,
        num_keypoints=v.int_column(path, anns, "num_keypoints", ids, default=-1) if fmt.crowd_index else None,
    )


def _valid_flags(path, anns, part, ids, keypoints) -> np.ndarray:
    """``*_valid`` flags; where a record has none, a part counts as valid if any point is labelled."""
    flags = v.flag_column(path, anns, JSON_VALID_FIELDS[part], ids, default=None)
    labelled = (keypoints[:, PART_SLICES[part], 2] > 0).any(axis=1)
    return np.where(flags < 0, labelled, flags > 0)


def load_results(source: Source, gt: GroundTruth | None = None) -> Results:
    """Load and validate a COCO-WholeBody results list; with ``gt``, image ids must exist in it.

    Files go through the simdjson fast path first (:mod:`wholebody.data.results_fast`, same
    values, ~3x less CPU and no Python object per number); anything it does not accept takes
    the validating path below, which also names the record and field of any problem.
    """
    if isinstance(source, (str, os.PathLike)):
        fast = _results_fast(str(source), gt)
        if fast is not None:
            return fast
    with _no_gc():
        return _results(*_read(source), gt)


def _results_fast(path: str, gt: GroundTruth | None) -> Results | None:
    from wholebody.data.results_fast import read_results_arrays

    known = None if gt is None else np.unique(np.fromiter(gt.images, dtype=np.int64, count=len(gt.images)))
    columns = read_results_arrays(path, known)
    if columns is None:
        return None
    scores, fallback = ranking_scores(columns["base_score"], columns["part_scores"])
    return Results(path=path, image_ids=columns["image_ids"], category_ids=columns["category_ids"],
                   keypoints=columns["keypoints"], scores=scores, score_fallback=fallback)


def ranking_scores(base: np.ndarray, own: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Per evaluated part, each result's ranking score: the part's own field (``own[field]``,
    NaN where a record lacks it) or else ``score``, as xtcocotools; plus the fallback counts."""
    scores, fallback = {}, {}
    for part in EVAL_PARTS:
        key = JSON_SCORE_FIELDS[part]
        if key == "score":
            scores[part], fallback[part] = base, 0
            continue
        missing = np.isnan(own[key])
        scores[part] = np.where(missing, base, own[key])
        fallback[part] = int(missing.sum())
    return scores, fallback


def _results(path: str, data: Any, gt: GroundTruth | None) -> Results:
    if not isinstance(data, list):
        raise AnnotationError(path, None, None, f"a results file must be a JSON list, got {type(data).__name__}")
    for i, rec in enumerate(data):
        if not isinstance(rec, dict):
            raise AnnotationError(path, i, None, f"result must be an object, got {type(rec).__name__}")
    record_ids = np.arange(len(data))  # results carry no id: records are named by list index
    image_ids = v.int_column(path, data, "image_id", record_ids)
    if gt is not None and len(data):
        unknown = ~np.isin(image_ids, np.fromiter(gt.images, dtype=np.int64, count=len(gt.images)))
        if unknown.any():
            i = int(np.flatnonzero(unknown)[0])
            raise AnnotationError(path, i, "image_id", f"image id {int(image_ids[i])} is not in the ground truth {gt.path}")
    base = v.float_column(path, data, "score", record_ids, default=None)
    own = {JSON_SCORE_FIELDS[p]: v.float_column(path, data, JSON_SCORE_FIELDS[p], record_ids, default=np.nan)
           for p in EVAL_PARTS if JSON_SCORE_FIELDS[p] != "score"}
    scores, fallback = ranking_scores(base, own)
    return Results(
        path=path,
        image_ids=image_ids,
        category_ids=v.int_column(path, data, "category_id", record_ids),
        keypoints=v.keypoint_blocks(path, data, record_ids, visibility=False),
        scores=scores,
        score_fallback=fallback,
        area=result_areas(path, data, record_ids),
    )


def result_areas(path: str, data: list[dict], record_ids: np.ndarray) -> np.ndarray | None:
    """Areas as COCO's ``loadRes`` sets them when results carry a ``bbox``.

    ``loadRes`` looks at the first record only: if it has a non-empty ``bbox``, every result's
    area becomes its box ``w * h`` (and every record needs a box), and the body-keypoint extent
    is not used.  Otherwise it returns None and the evaluator uses the keypoint extent.
    """
    if not data or not data[0].get("bbox"):
        return None
    boxes = v.float_rows(path, data, "bbox", 4, record_ids)
    return boxes[:, 2] * boxes[:, 3]


def split_blocks(keypoints: np.ndarray) -> dict[str, list[float]]:
    """Cut a (133, 3) array into the five flat JSON keypoint blocks."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.shape != (133, 3):
        raise ValueError(f"expected (133, 3) keypoints, got {keypoints.shape}")
    return {JSON_KEYPOINT_FIELDS[p]: keypoints[PART_SLICES[p]].ravel().tolist() for p in PARTS}


def result_entry(image_id: int, keypoints: np.ndarray, score: float, part_scores: dict[str, float] | None = None,
                 **extra: Any) -> dict:
    """One entry of a COCO-WholeBody results list (``extra`` keys are passed through)."""
    entry: dict[str, Any] = {"image_id": int(image_id), "category_id": 1, **split_blocks(keypoints), "score": float(score)}
    for part, value in (part_scores or {}).items():
        key = JSON_SCORE_FIELDS[part]
        if key != "score":
            entry[key] = float(value)
    entry.update(extra)
    return entry


def write_results(path: str | os.PathLike, entries: list[dict]) -> None:
    """Write a results list atomically (numpy values allowed)."""
    atomic_write_bytes(path, orjson.dumps(entries, option=orjson.OPT_SERIALIZE_NUMPY))
