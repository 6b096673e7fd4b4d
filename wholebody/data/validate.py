"""Column builders with strict validation, shared by the COCO-WholeBody loaders.

Each builder turns one key of a list of JSON records into a numpy column.  The fast path hands
whole columns to numpy at once (a val-scale results file has ~24M numbers); only when that
fails, or a check finds a bad value, does a slow scan find the first offending record so the
error can name it.  ``record_ids`` give the name of each record in messages: annotation ids,
or list indices for results (which have no id).
"""

from __future__ import annotations

import math
from itertools import chain

import numpy as np

from wholebody.data.errors import AnnotationError
from wholebody.schema import JSON_KEYPOINT_FIELDS, PART_SIZES, PARTS

_NUMBER = (int, float)


def _name(record_ids, i):
    return i if record_ids is None else int(record_ids[i])


def require_list(path, data, key):
    value = data.get(key)
    if not isinstance(value, list):
        raise AnnotationError(path, None, key, f"missing or not a list (got {type(value).__name__})")
    for i, rec in enumerate(value):
        if not isinstance(rec, dict):
            raise AnnotationError(path, i, key, f"entry {i} must be an object, got {type(rec).__name__}")
    return value


def index_images(path, data) -> dict[int, dict]:
    """``images`` as {id: entry}; ids must be unique integers."""
    images = require_list(path, data, "images")
    index: dict[int, dict] = {}
    for i, img in enumerate(images):
        image_id = img.get("id")
        if type(image_id) is not int:
            raise AnnotationError(path, f"images[{i}]", "id", f"must be an integer, got {image_id!r}")
        if image_id in index:
            raise AnnotationError(path, image_id, "id", "duplicate image id")
        index[image_id] = img
    return index


def _values(path, records, key, record_ids, default):
    if default is None:
        try:
            return [rec[key] for rec in records]
        except KeyError:
            i = next(i for i, rec in enumerate(records) if key not in rec)
            raise AnnotationError(path, _name(record_ids, i), key, "missing") from None
    return [rec.get(key, default) for rec in records]


def int_column(path, records, key, record_ids, default=None) -> np.ndarray:
    """Integer column (ids): every value must be a JSON integer (not a bool, float or string)."""
    values = _values(path, records, key, record_ids, default)
    for i, value in enumerate(values):
        if type(value) is not int:
            raise AnnotationError(path, _name(record_ids, i), key, f"must be an integer, got {value!r}")
    return np.array(values, dtype=np.int64).reshape(len(values))


def float_column(path, records, key, record_ids, default=None, nonnegative=False) -> np.ndarray:
    """Float column; values must be finite numbers.  ``default`` fills absent keys (may be NaN)."""
    values = _values(path, records, key, record_ids, default)
    if not {type(x) for x in values} <= {int, float}:
        i = next(i for i, x in enumerate(values) if type(x) not in _NUMBER)
        raise AnnotationError(path, _name(record_ids, i), key, f"must be a number, got {values[i]!r}")
    column = np.array(values, dtype=np.float64).reshape(len(values))
    present = np.array([key in rec for rec in records], dtype=bool) if default is not None else np.ones(len(values), bool)
    bad = present & ~np.isfinite(column)
    if nonnegative:
        bad |= present & (column < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AnnotationError(path, _name(record_ids, i), key, f"must be a finite{' non-negative' if nonnegative else ''} number, got {values[i]!r}")
    return column


def flag_column(path, records, key, record_ids, default) -> np.ndarray:
    """Boolean flag: JSON true/false or 0/1.  With ``default=None`` an absent key reads -1."""
    fill = -1 if default is None else int(default)
    values = [rec.get(key, fill) for rec in records]
    for i, value in enumerate(values):
        if value not in (0, 1, fill) or type(value) not in (bool, int):
            raise AnnotationError(path, _name(record_ids, i), key, f"must be true/false or 0/1, got {value!r}")
    column = np.array(values, dtype=np.int8).reshape(len(values))
    return column if default is None else column.astype(bool)


def float_rows(path, records, key, width, record_ids, default=None) -> np.ndarray:
    """(N, width) float rows, e.g. boxes; each must be a list of ``width`` finite numbers."""
    values = _values(path, records, key, record_ids, default)
    rows = _numeric_rows(path, values, key, width, record_ids)
    return rows


def _numeric_rows(path, values, key, width, record_ids) -> np.ndarray:
    if not values:
        return np.zeros((0, width))
    try:
        rows = np.array(values)
        ok = rows.ndim == 2 and rows.shape[1] == width and rows.dtype.kind in "iuf"
    except (ValueError, TypeError):
        ok = False
    # numpy reads a JSON true/false among numbers as 1/0: look for bools (~20 ns per value)
    ok = ok and bool not in set(map(type, chain.from_iterable(values)))
    if not ok:
        _raise_first_bad_row(path, values, key, width, record_ids)
    rows = rows.astype(np.float64, copy=False)
    finite = np.isfinite(rows).all(axis=1)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        j = int(np.flatnonzero(~np.isfinite(rows[i]))[0])
        raise AnnotationError(path, _name(record_ids, i), key, f"value {j} is {float(rows[i, j])!r}, must be finite (no NaN or infinity)")
    return rows


def _raise_first_bad_row(path, values, key, width, record_ids):
    for i, row in enumerate(values):
        name = _name(record_ids, i)
        if not isinstance(row, list):
            raise AnnotationError(path, name, key, f"must be a flat list of {width} numbers, got {type(row).__name__}")
        if len(row) != width:
            raise AnnotationError(path, name, key, f"must have {width} values, got {len(row)}")
        for j, x in enumerate(row):
            if type(x) not in _NUMBER:
                raise AnnotationError(path, name, key, f"value {j} must be a number, got {x!r}")
            if not math.isfinite(x):
                raise AnnotationError(path, name, key, f"value {j} is {x!r}, must be finite")
    raise AnnotationError(path, None, key, "inconsistent rows")  # unreachable: some row was bad


# COCO-WholeBody's five keypoint blocks: (JSON field, number of points).
WHOLEBODY_BLOCKS: tuple[tuple[str, int], ...] = tuple((JSON_KEYPOINT_FIELDS[p], PART_SIZES[p]) for p in PARTS)


def keypoint_blocks(path, records, record_ids, visibility: bool, blocks=WHOLEBODY_BLOCKS) -> np.ndarray:
    """The keypoint blocks of every record as one (N, K, 3) array, K the sum of block sizes.

    ``blocks`` lists (JSON field, points): COCO-WholeBody's five by default, or a single
    ``("keypoints", K)`` for COCO-17, CrowdPose and the other one-block layouts.  For ground
    truth (``visibility=True``) the third value is the visibility flag and must be >= 0; for
    results it is the keypoint score.
    """
    arrays = []
    for key, size in blocks:
        values = _values(path, records, key, record_ids, None)
        rows = _numeric_rows(path, values, key, 3 * size, record_ids)
        arrays.append(rows.reshape(len(values), size, 3))
        if visibility and (arrays[-1][..., 2] < 0).any():
            i = int(np.flatnonzero((arrays[-1][..., 2] < 0).any(axis=1))[0])
            raise AnnotationError(path, _name(record_ids, i), key, "visibility flags must be >= 0")
    return np.concatenate(arrays, axis=1) if records else np.zeros((0, sum(size for _, size in blocks), 3))


def check_unique(path, ids: np.ndarray, what: str, key: str) -> None:
    values, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise AnnotationError(path, int(values[counts > 1][0]), key, f"duplicate {what} id")
