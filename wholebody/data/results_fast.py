"""Fast path for large COCO-WholeBody results files: simdjson, no Python float per number.

A val-scale results file holds ~24M numbers.  Parsing it into Python objects (json, orjson)
costs seconds of CPU and about 1 GB of memory before a single array exists.  pysimdjson
parses into its own compact tape and hands each keypoint block over as a buffer of doubles,
which goes straight into the (M, 133, 3) array.  simdjson's number parsing is correctly
rounded, so the values are the same doubles as with ``json`` / ``orjson``.

This path only accepts files that pass every check of the validating loader
(:func:`wholebody.data.cocowb.load_results`); on anything unusual (a parse error, a missing
or non-numeric field, a nested or wrong-length block, a repeated key, pysimdjson not
installed) it returns None and the caller runs the validating path, which names the record
and field of the problem.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from wholebody.schema import EVAL_PARTS, JSON_KEYPOINT_FIELDS, JSON_SCORE_FIELDS, PART_SIZES, PARTS

log = logging.getLogger(__name__)

_MISSING = object()
_BLOCKS = [(JSON_KEYPOINT_FIELDS[p], 3 * PART_SIZES[p]) for p in PARTS]
_PART_SCORE_FIELDS = [JSON_SCORE_FIELDS[p] for p in EVAL_PARTS if JSON_SCORE_FIELDS[p] != "score"]


class _NotSimple(Exception):
    """The file needs the validating loader (it may still be valid)."""


def _number(value) -> float:
    if type(value) is not float and type(value) is not int:
        raise _NotSimple
    value = float(value)
    if not math.isfinite(value):
        raise _NotSimple
    return value


def _integer(value) -> int:
    if type(value) is not int:
        raise _NotSimple
    return value


def read_results_arrays(path: str, known_images: np.ndarray | None = None) -> dict | None:
    """Columns of a results file (see :class:`wholebody.data.cocowb.Results`), or None.

    ``known_images``: sorted image ids of the ground truth; a result for another image sends
    the file to the validating path (which reports it).
    """
    try:
        import simdjson
    except ImportError:
        return None
    parser = simdjson.Parser()
    try:
        doc = parser.load(path)
        columns = _columns(simdjson, doc)
    except (_NotSimple, ValueError, TypeError, KeyError, RuntimeError, OSError) as err:
        log.debug("%s: simdjson fast path not taken (%s); using the validating loader", path, type(err).__name__)
        return None
    finally:
        doc = None  # release the proxies before the parser goes
    if known_images is not None and len(columns["image_ids"]):
        where = np.searchsorted(known_images, columns["image_ids"])
        if (where >= len(known_images)).any() or (known_images[where] != columns["image_ids"]).any():
            return None
    return columns


def _columns(simdjson, doc) -> dict:
    if not isinstance(doc, simdjson.Array):
        raise _NotSimple
    n = len(doc)
    if n and "bbox" in doc[0]:
        raise _NotSimple  # areas come from the boxes (see cocowb.result_areas): validating path
    flat = np.empty((n, 399))
    image_ids = np.empty(n, np.int64)
    category_ids = np.empty(n, np.int64)
    base = np.empty(n)
    own = {field: np.full(n, np.nan) for field in _PART_SCORE_FIELDS}
    part_score_fields = set(_PART_SCORE_FIELDS)
    frombuffer, join = np.frombuffer, b"".join
    for i, rec in enumerate(doc):
        if not isinstance(rec, simdjson.Object):
            raise _NotSimple
        keys = set(rec.keys())
        if len(keys) != len(rec):
            raise _NotSimple  # json/orjson keep the last of repeated keys, simdjson the first
        image_ids[i] = _integer(rec["image_id"])
        category_ids[i] = _integer(rec["category_id"])
        base[i] = _number(rec["score"])
        buffers = []
        for field, width in _BLOCKS:
            block = rec[field]
            if not isinstance(block, simdjson.Array) or len(block) != width:
                raise _NotSimple
            buffer = block.as_buffer(of_type="d")
            if memoryview(buffer).nbytes != 8 * width:  # nested lists are flattened by as_buffer
                raise _NotSimple
            buffers.append(buffer)
        flat[i] = frombuffer(join(buffers))
        for field in keys & part_score_fields:
            own[field][i] = _number(rec[field])
    if not np.isfinite(flat).all():
        raise _NotSimple
    return {"image_ids": image_ids, "category_ids": category_ids, "keypoints": flat.reshape(n, 133, 3),
            "base_score": base, "part_scores": own}
