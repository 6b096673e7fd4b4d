"""Seeded synthetic sets in any supported keypoint layout, for parity tests against xtcocotools.

:func:`to_layout` turns a COCO-WholeBody pair from :func:`wholebody.eval.synthetic.make_synthetic`
into another layout's one-block files: shared points are re-ordered through the schema's maps;
points outside the 133 order (head top, neck, mid-hip, thorax, upper neck) are made from body
points by the same formula in ground truth and results, so a result's error there follows its
error elsewhere.  CrowdPose sets also get an image ``crowdIndex`` and ``num_keypoints`` counting
only v == 2, as CrowdPose's files do.
"""

from __future__ import annotations

import numpy as np

from wholebody.schema.body_layouts import EXTRA_POINT_NAMES
from wholebody.schema.formats import KeypointFormat
from wholebody.schema.layout import from_wholebody

_BLOCKS = ("keypoints", "foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts")


def _extra_point(body: np.ndarray, name: str) -> np.ndarray:
    """(x, y, v-or-score) of a point outside the 133 order from COCO body points (17, 3)."""
    nose, shoulders, hips = body[0], body[5:7], body[11:13]
    mid_shoulder, mid_hip = shoulders.mean(axis=0), hips.mean(axis=0)
    xy = {"head_top": 2 * nose[:2] - mid_shoulder[:2], "neck": mid_shoulder[:2], "mid_hip": mid_hip[:2],
          "thorax": 0.75 * mid_shoulder[:2] + 0.25 * mid_hip[:2], "upper_neck": (nose[:2] + mid_shoulder[:2]) / 2}[name]
    flag = min(nose[2], shoulders[:, 2].min()) if name in ("head_top", "upper_neck") else (
        hips[:, 2].min() if name == "mid_hip" else shoulders[:, 2].min())
    return np.array([round(float(xy[0]), 2), round(float(xy[1]), 2), flag])


def _convert(record: dict, fmt: KeypointFormat) -> np.ndarray:
    points = np.concatenate([np.asarray(record[b], dtype=np.float64).reshape(-1, 3) for b in _BLOCKS])
    out = from_wholebody(points, fmt.layout).astype(np.float64)
    for j in np.flatnonzero(fmt.layout.to_wholebody < 0):
        out[j] = _extra_point(points[:17], EXTRA_POINT_NAMES[fmt.layout.keypoints[j]])
    return out


def to_layout(gt: dict, results: list[dict], fmt: KeypointFormat, seed: int = 0) -> tuple[dict, list[dict]]:
    """The pair in ``fmt``'s layout: one ``keypoints`` block per record, the category's names."""
    rng = np.random.default_rng(seed)
    anns = []
    for ann in gt["annotations"]:
        points = _convert(ann, fmt)
        rec = {k: v for k, v in ann.items() if k not in _BLOCKS and not k.endswith(("_valid", "_box"))}
        rec["keypoints"] = points.reshape(-1).tolist()
        labelled = points[:, 2] == 2 if fmt.crowd_index else points[:, 2] > 0
        rec["num_keypoints"] = int(labelled.sum())
        anns.append(rec)
    images = [dict(img) for img in gt["images"]]
    if fmt.crowd_index:
        for img in images:
            img["crowdIndex"] = round(float(rng.choice([rng.uniform(0, 0.2), rng.uniform(0.2, 0.8), rng.uniform(0.8, 1)])), 2)
    categories = [dict(c, keypoints=list(fmt.layout.keypoints)) for c in gt["categories"]]
    out_results = []
    for rec in results:
        new = {k: v for k, v in rec.items() if k not in _BLOCKS}
        new["keypoints"] = _convert(rec, fmt).reshape(-1).tolist()
        out_results.append(new)
    return {**gt, "images": images, "annotations": anns, "categories": categories}, out_results
