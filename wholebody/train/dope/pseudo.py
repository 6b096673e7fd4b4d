"""Pseudo ground truth for DOPE: part-expert detections merged with the real labels (Eq. 1).

The part experts (``wholebody.experts``, or any callable ``image -> list[Person]``) are run on
every training image once; their people are cached in a JSON file so training never re-runs
them.  For each image and part p:

* p is labelled by the dataset (``Sample.labelled_parts``): the real instances are the ground
  truth.  A real instance without 3D borrows the 3D of the expert instance of the same part
  whose pose box overlaps it most (IoU >= 0.5; hands of the same side), if any.
* otherwise: the expert instances of p with score >= ``min_score`` are the ground truth.

Images with no labels at all are allowed (everything comes from the experts).  Every expert
instance (any score) is also kept in ``PseudoLabels.expert`` for the distillation loss.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable

import numpy as np
import orjson

from wholebody.data.adapters.sample import PartInstance, Sample, make_instance
from wholebody.data.atomic import atomic_write_bytes
from wholebody.data.errors import AnnotationError, WholebodyError
from wholebody.models.dope.layout import WB_BODY23, WB_FACE68, WB_HAND21, DopeLayout
from wholebody.nn.nms import box_iou
from wholebody.schema import PART_SLICES
from wholebody.types import Person

log = logging.getLogger(__name__)

MIN_POINT_SCORE = 0.3  # an expert keypoint below this score counts as not observed
BORROW_IOU = 0.5


@dataclass
class PseudoLabels:
    """Training targets of one image: ``ground_truth`` (Eq. 1) and all ``expert`` instances."""

    ground_truth: list[PartInstance] = field(default_factory=list)
    expert: list[PartInstance] = field(default_factory=list)


def person_to_instances(person: Person, layout: DopeLayout, person_index: int | None = None) -> list[PartInstance]:
    """An expert ``Person`` (133 keypoints, 3D per part) -> DOPE part instances with scores."""
    out = []
    body = slice(0, PART_SLICES["foot"].stop)
    specs = [("body", body, WB_BODY23, "body", None, person.part_scores.get("body", person.score)),
             ("face", PART_SLICES["face"], WB_FACE68, "face", None, person.part_scores.get("face", 0.0))]
    specs += [("hand", PART_SLICES[side], WB_HAND21, side, side == "righthand", person.part_scores.get(side, 0.0))
              for side in ("lefthand", "righthand")]
    for part, points_slice, source, key3d, is_right, score in specs:
        points = person.keypoints[points_slice]
        visible = points[:, 2] >= MIN_POINT_SCORE
        if visible.sum() < 2 or score <= 0:
            continue
        xyz = person.keypoints_3d.get(key3d)
        vis3d = None
        if xyz is not None:
            xyz = np.asarray(xyz, float)
            vis3d = visible & np.isfinite(xyz).all(axis=1)
            xyz = np.nan_to_num(xyz)
        out.append(make_instance(part, layout.parts[part], layout, points[:, :2], visible, source, xyz, vis3d,
                                 is_right=is_right, person=person_index, score=float(score)))
    return [inst for inst in out if inst.box is not None]


def _same_kind(a: PartInstance, b: PartInstance) -> bool:
    return a.part == b.part and (a.part != "hand" or a.is_right == b.is_right)


def _borrow_3d(real: PartInstance, experts: list[PartInstance]) -> PartInstance:
    """``real`` with the 3D of its best-overlapping expert instance, when it has none."""
    if real.pose3d is not None and real.visible3d is not None and real.visible3d.any():
        return real
    import torch

    candidates = [e for e in experts if _same_kind(real, e) and e.pose3d is not None and e.visible3d.any()]
    if real.box is None or not candidates:
        return real
    iou = box_iou(torch.as_tensor(real.box[None]), torch.as_tensor(np.stack([c.box for c in candidates])))[0].numpy()
    best = int(iou.argmax())
    if iou[best] < BORROW_IOU:
        return real
    return replace(real, pose3d=candidates[best].pose3d.copy(), visible3d=candidates[best].visible3d.copy())


def combine(sample: Sample, expert_people: Iterable[Person], layout: DopeLayout, min_score: float = 0.5) -> PseudoLabels:
    """Eq. 1 (module docstring): real labels where the dataset has them, expert labels elsewhere."""
    experts = [inst for i, person in enumerate(expert_people) for inst in person_to_instances(person, layout, i)]
    truth = []
    for part in layout.parts:
        if part in sample.labelled_parts:
            truth += [_borrow_3d(inst, experts) for inst in sample.instances if inst.part == part]
        else:
            truth += [inst for inst in experts if inst.part == part and inst.score >= min_score]
    return PseudoLabels(truth, experts)


# ---- running the teacher once and caching its people ---------------------------------------
def _person_record(person: Person) -> dict:
    return {"keypoints": person.keypoints.tolist(), "score": float(person.score),
            "part_scores": {k: float(v) for k, v in person.part_scores.items()},
            "keypoints_3d": {k: (None if v is None else np.asarray(v).tolist()) for k, v in person.keypoints_3d.items()}}


def _person_from_record(path: str, key: str, record: dict) -> Person:
    try:
        return Person(keypoints=np.asarray(record["keypoints"], float), score=float(record["score"]),
                      part_scores=dict(record.get("part_scores", {})),
                      keypoints_3d={k: None if v is None else np.asarray(v, float) for k, v in record.get("keypoints_3d", {}).items()})
    except (KeyError, TypeError, ValueError) as err:
        raise AnnotationError(path, key, "people", f"malformed expert person ({err})") from None


def sample_key(sample: Sample) -> str:
    """Cache key of a sample: its source, record and frame."""
    return f"{sample.source}:{sample.record}" + ("" if sample.frame_index is None else f"#{sample.frame_index}")


def run_teacher(samples: list[Sample], teacher: Callable[[np.ndarray], list[Person]], cache_path: str | os.PathLike,
                load_image: Callable[[Sample], np.ndarray]) -> tuple[dict[str, list[Person]], list[str]]:
    """Expert people for every sample with an image, reusing and extending the JSON cache.

    Returns (people by ``sample_key``, skipped messages).  An image that cannot be read is
    logged with its path and record and skipped; the cache is rewritten atomically.
    """
    cache = load_teacher_cache(cache_path) if os.path.exists(cache_path) else {}
    records = {key: [_person_record(p) for p in people] for key, people in cache.items()}
    skipped = []
    for sample in samples:
        key = sample_key(sample)
        if sample.image_path is None or key in cache:
            continue
        try:
            image = load_image(sample)
        except WholebodyError as err:
            skipped.append(f"{sample.image_path} (record {sample.record}): {err}")
            log.warning("pseudo-labelling: skipping %s", skipped[-1])
            continue
        cache[key] = teacher(image)
        records[key] = [_person_record(p) for p in cache[key]]
    atomic_write_bytes(cache_path, orjson.dumps({"format": "dope-teacher-cache", "people": records},
                                                 option=orjson.OPT_SERIALIZE_NUMPY))
    return cache, skipped


def load_teacher_cache(path: str | os.PathLike) -> dict[str, list[Person]]:
    """Read a cache written by :func:`run_teacher`."""
    path = str(path)
    try:
        data = orjson.loads(open(path, "rb").read())
    except (OSError, orjson.JSONDecodeError) as err:
        raise AnnotationError(path, None, None, f"cannot read the teacher cache ({err})") from None
    if not isinstance(data, dict) or data.get("format") != "dope-teacher-cache":
        raise AnnotationError(path, None, "format", "not a DOPE teacher cache")
    return {key: [_person_from_record(path, key, r) for r in people] for key, people in data["people"].items()}
