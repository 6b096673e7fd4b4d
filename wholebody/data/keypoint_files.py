"""Any COCO-style keypoint file: detect its layout, load it, map results onto the ground truth.

COCO-WholeBody files carry five keypoint blocks (``keypoints``, ``foot_kpts``, ...); every other
benchmark (COCO-17, OCHuman, CrowdPose, AI Challenger, MPII, Halpe) one ``keypoints`` block of
K points.  The layout is read from the person category's ``keypoints`` names, or only from K
when the names are absent or unknown (:func:`wholebody.schema.formats.detect_format`), unless
the caller forces one.  Results may be in another layout than the ground truth (e.g. this
project's 133-point output against COCO-17): they are mapped through the schema's maps, and
ground-truth points the results' layout lacks are marked unscored.
"""

from __future__ import annotations

import dataclasses
import logging
import os

import numpy as np

from wholebody.data import validate as v
from wholebody.data.cocowb import (
    GroundTruth, Results, Source, _no_gc, _read, _results, _results_fast, _ground_truth, ranking_scores, result_areas,
)
from wholebody.data.errors import AnnotationError
from wholebody.schema import EVAL_PARTS, JSON_SCORE_FIELDS
from wholebody.schema.formats import (
    COCO_WHOLEBODY_FORMAT, KeypointFormat, detect_format, format_by_name, shared_points, subset_format,
    supported_formats,
)

log = logging.getLogger(__name__)

_WHOLEBODY_MARKER = "foot_kpts"  # only COCO-WholeBody records have this block


def _person_category(data: dict) -> dict | None:
    """The category whose ``keypoints`` list names the points: 'person' first, else any."""
    categories = [c for c in data.get("categories") or [] if isinstance(c, dict) and isinstance(c.get("keypoints"), list)]
    named = [c for c in categories if c.get("name") == "person"]
    return (named or categories or [None])[0]


def _block_size(path: str, records: list, what: str) -> int:
    """K of a one-block file, from its first record's ``keypoints`` (3 values per point)."""
    if not records:
        return 0
    values = records[0].get("keypoints")
    if not isinstance(values, list) or len(values) % 3:
        raise AnnotationError(path, records[0].get("id", 0), "keypoints",
                              f"{what}: missing or not a flat list of 3 values per point, got {type(values).__name__}"
                              + (f" of length {len(values)}" if isinstance(values, list) else ""))
    return len(values) // 3


def detect_file_format(path: str, data: dict, layout: str | None = None) -> tuple[KeypointFormat, tuple]:
    """The format of a parsed ground-truth file and the JSON blocks its records carry.

    ``layout`` (a format name) forces the format.  Raises AnnotationError naming the file, the
    category and the keypoint count, with the supported layouts, when it cannot be told.
    """
    anns = v.require_list(path, data, "annotations")
    if anns and _WHOLEBODY_MARKER in anns[0]:
        fmt = format_by_name(layout) if layout else COCO_WHOLEBODY_FORMAT
        if fmt.num_keypoints != 133:
            raise AnnotationError(path, None, "annotations", f"has COCO-WholeBody blocks, not the {fmt.name} layout")
        return fmt, v.WHOLEBODY_BLOCKS
    category = _person_category(data)
    names = category.get("keypoints") if category else None
    count = _block_size(path, anns, "ground truth") if anns else len(names or [])
    fmt = format_by_name(layout) if layout else detect_format(names if names and len(names) == count else None, count)
    if fmt is None or fmt.num_keypoints != count:
        what = f"category {category.get('name')!r} (id {category.get('id')})" if category else "no category with keypoint names"
        shown = f", names {names[:4]}..." if names else ""
        problem = "cannot tell the keypoint layout" if fmt is None else f"--layout {fmt.name} has {fmt.num_keypoints} points"
        raise AnnotationError(path, None, "categories",
                              f"{problem}: {what} with {count} keypoints{shown}; supported layouts: "
                              f"{supported_formats()}; pass --layout NAME to choose one")
    return fmt, (("keypoints", count),)


def load_keypoint_ground_truth(source: Source, layout: str | None = None) -> GroundTruth:
    """Load and validate a COCO-style keypoint ground truth of any supported layout."""
    with _no_gc():
        path, data = _read(source)
        if not isinstance(data, dict):
            raise AnnotationError(path, None, None, f"top level must be an object, got {type(data).__name__}")
        fmt, blocks = detect_file_format(path, data, layout)
        if fmt is not COCO_WHOLEBODY_FORMAT or blocks != v.WHOLEBODY_BLOCKS:
            log.debug("%s: %s layout", path, fmt.title)
        return _ground_truth(path, data, fmt, blocks)


def load_keypoint_results(source: Source, gt: GroundTruth) -> Results:
    """Load a results list and express it in ``gt``'s layout (mapping it when it differs)."""
    fmt = gt.format
    if fmt is COCO_WHOLEBODY_FORMAT and isinstance(source, (str, os.PathLike)):
        fast = _results_fast(str(source), gt)  # the unchanged COCO-WholeBody fast path
        if fast is not None:
            return fast
    with _no_gc():
        path, data = _read(source)
        if not isinstance(data, list):
            raise AnnotationError(path, None, None, f"a results file must be a JSON list, got {type(data).__name__}")
        for i, rec in enumerate(data):
            if not isinstance(rec, dict):
                raise AnnotationError(path, i, None, f"result must be an object, got {type(rec).__name__}")
        # COCO-WholeBody blocks, or a broken record against a COCO-WholeBody ground truth, whose
        # validating loader names the problem as it always has
        blocks = data[0].keys() if data else ()
        if _WHOLEBODY_MARKER in blocks or (fmt is COCO_WHOLEBODY_FORMAT and "keypoints" not in blocks):
            res = _results(path, data, gt)
            if fmt is COCO_WHOLEBODY_FORMAT:
                return res
            return _mapped(res, COCO_WHOLEBODY_FORMAT, fmt, _extent(res.keypoints[:, :17]) if res.area is None else res.area)
        return _one_block_results(path, data, gt)


def _one_block_results(path: str, data: list, gt: GroundTruth) -> Results:
    fmt = gt.format
    record_ids = np.arange(len(data))
    image_ids = v.int_column(path, data, "image_id", record_ids)
    known = np.fromiter(gt.images, dtype=np.int64, count=len(gt.images))
    unknown = ~np.isin(image_ids, known)
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise AnnotationError(path, i, "image_id", f"image id {int(image_ids[i])} is not in the ground truth {gt.path}")
    count = _block_size(path, data, "results") if data else fmt.num_keypoints  # no results: nothing to map
    source_fmt = fmt if count == fmt.num_keypoints else detect_format(None, count)
    if source_fmt is None:
        raise AnnotationError(path, 0, "keypoints", f"{count} keypoints per result: not the ground truth's {fmt.name} "
                              f"({fmt.num_keypoints}) nor any one layout; supported layouts: {supported_formats()}")
    keypoints = v.keypoint_blocks(path, data, record_ids, visibility=False, blocks=(("keypoints", count),))
    base = v.float_column(path, data, "score", record_ids, default=None)
    if fmt is COCO_WHOLEBODY_FORMAT:  # flat 133 results may still carry the part score fields
        own = {JSON_SCORE_FIELDS[p]: v.float_column(path, data, JSON_SCORE_FIELDS[p], record_ids, default=np.nan)
               for p in EVAL_PARTS if JSON_SCORE_FIELDS[p] != "score"}
        scores, fallback = ranking_scores(base, own)
    else:
        scores, fallback = {p: base for p in fmt.eval_parts}, {p: 0 for p in fmt.eval_parts}
    area = result_areas(path, data, record_ids)
    res = Results(path=path, image_ids=image_ids, category_ids=v.int_column(path, data, "category_id", record_ids),
                  keypoints=keypoints, scores=scores, score_fallback=fallback)
    return _mapped(res, source_fmt, fmt, _extent(keypoints) if area is None else area)


def _extent(points: np.ndarray) -> np.ndarray:
    """xtcocotools ``loadRes`` area: (max - min x) * (max - min y) over the ``keypoints`` field."""
    if len(points) == 0:
        return np.zeros(0)
    lo, hi = points[..., :2].min(axis=1), points[..., :2].max(axis=1)
    return (hi[:, 0] - lo[:, 0]) * (hi[:, 1] - lo[:, 1])


def _mapped(res: Results, source: KeypointFormat, target: KeypointFormat, area: np.ndarray) -> Results:
    """``res`` re-ordered into ``target``'s points; points ``source`` lacks are zero and unscored."""
    res.area = area
    if source is target:
        return res
    src, tgt = shared_points(source.layout, target.layout)
    keypoints = np.zeros((len(res), target.num_keypoints, 3))
    keypoints[:, tgt] = res.keypoints[:, src]
    scored = np.zeros(target.num_keypoints, dtype=bool)
    scored[tgt] = True
    if not scored.all():
        missing = [target.layout.keypoints[i] for i in np.flatnonzero(~scored)]
        log.warning("%s: %s results have no %s; those points are not scored", res.path, source.title, ", ".join(missing))
    # Every benchmark but COCO-WholeBody ranks all its parts by the one ``score``.
    base = res.scores["body"]
    res.keypoints, res.scored_points = keypoints, scored
    res.scores = {p: base for p in target.eval_parts}
    res.score_fallback = {p: 0 for p in target.eval_parts}
    return res


def restrict_to_scored(gt: GroundTruth, res: Results) -> tuple[GroundTruth, Results]:
    """``gt`` and ``res`` cut to the points the results have (no-op when they have all).

    The evaluator leaves unscored points out by itself; the error analysis, which works on
    whole parts, gets this reduced layout instead (:func:`wholebody.schema.formats.subset_format`).
    """
    if res.scored_points is None or res.scored_points.all():
        return gt, res
    keep = np.flatnonzero(res.scored_points)
    fmt = subset_format(gt.format, keep)
    gt = dataclasses.replace(gt, keypoints=gt.keypoints[:, keep], format=fmt)
    res = dataclasses.replace(res, keypoints=res.keypoints[:, keep], scored_points=None,
                              scores={p: res.scores["body"] for p in fmt.eval_parts},
                              score_fallback={p: 0 for p in fmt.eval_parts})
    return gt, res


def read_image_list(source: Source) -> dict[int, dict]:
    """Only the ``images`` of a COCO-style file, {id: entry}: all ``predict --coco`` needs."""
    path, data = _read(source)
    if not isinstance(data, dict):
        raise AnnotationError(path, None, None, f"top level must be an object, got {type(data).__name__}")
    return v.index_images(path, data)


__all__ = ["detect_file_format", "load_keypoint_ground_truth", "load_keypoint_results", "read_image_list",
           "restrict_to_scored"]
