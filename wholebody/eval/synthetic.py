"""Seeded synthetic COCO-WholeBody ground truth + results, for parity tests and benchmarks.

The data is not anatomical: points are scattered inside each person box.  What matters is
that it exercises every branch of the evaluator: crowds, people with unlabelled parts or no
labels at all, results near and far from people, more than 20 results per image, tied scores,
parts whose keypoint scores are all 0, per-part ``*_score`` fields present, missing or mixed,
images without people, and several categories.  Coordinates are 2D pixels of the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wholebody.schema import JSON_KEYPOINT_FIELDS, JSON_SCORE_FIELDS, PART_SLICES, PARTS, SIGMAS

# Chance that a person has any labels in a part, and that a point of a labelled part is labelled.
PART_LABEL_PROB = {"body": 0.9, "foot": 0.6, "face": 0.5, "lefthand": 0.45, "righthand": 0.45}
POINT_LABEL_PROB = 0.85


@dataclass
class SyntheticSpec:
    """Sizes and knobs of one synthetic set (defaults: a small stress set).

    ``results_per_person`` / ``false_per_image`` are Poisson means; ``score_fields`` is
    ``"none"`` (only ``score``, like mmpose), ``"all"`` or ``"mixed"`` (each record carries each
    part field with probability 1/2).  ``tie_levels`` > 0 draws instance scores from that many
    values so ties are common.  ``float32`` rounds numbers through float32 like mmpose's writer.
    """

    n_images: int = 40
    people_per_image: float = 1.6
    results_per_person: float = 4.0
    false_per_image: float = 5.6
    crowd_fraction: float = 0.04
    unlabelled_fraction: float = 0.05
    n_categories: int = 1
    score_fields: str = "none"
    zero_part_prob: float = 0.05
    tie_levels: int = 0
    empty_image_fraction: float = 0.1
    float32: bool = False


def _round(values: np.ndarray, float32: bool) -> np.ndarray:
    return values.astype(np.float32).astype(np.float64) if float32 else np.round(values, 2)


def _make_people(rng: np.random.Generator, spec: SyntheticSpec, sizes: np.ndarray):
    """GT boxes, areas, 133x3 keypoints and crowd flags for ``len(people)`` people."""
    n = int(sizes.sum())
    img_w, img_h = 640.0, 480.0
    w = np.exp(rng.uniform(np.log(12), np.log(400), n))
    h = np.minimum(w * rng.uniform(1.0, 2.5, n), img_h - 1)
    x = rng.uniform(0, np.maximum(img_w - w, 1))
    y = rng.uniform(0, np.maximum(img_h - h, 1))
    bbox = np.stack([x, y, w, h], 1)
    area = w * h * rng.uniform(0.35, 0.75, n)
    kpts = np.zeros((n, 133, 3))
    kpts[:, :, 0] = x[:, None] + rng.uniform(0, 1, (n, 133)) * w[:, None]
    kpts[:, :, 1] = y[:, None] + rng.uniform(0, 1, (n, 133)) * h[:, None]
    labelled = np.zeros((n, 133), bool)
    for part, sl in PART_SLICES.items():
        has_part = rng.random(n) < PART_LABEL_PROB[part]
        labelled[:, sl] = has_part[:, None] & (rng.random((n, sl.stop - sl.start)) < POINT_LABEL_PROB)
    crowd = rng.random(n) < spec.crowd_fraction
    no_labels = rng.random(n) < spec.unlabelled_fraction
    labelled[no_labels | (crowd & (rng.random(n) < 0.7))] = False
    kpts[:, :, 2] = np.where(labelled, rng.choice([1.0, 2.0], (n, 133)), 0.0)
    # Unlabelled points are usually (0, 0, 0), as in COCO; a few keep stray coordinates.
    zero_xy = ~labelled & (rng.random((n, 133)) < 0.9)
    kpts[zero_xy, :2] = 0.0
    return bbox, area, kpts, crowd


def _ground_truth(rng: np.random.Generator, spec: SyntheticSpec):
    image_ids = rng.choice(np.arange(1, 50 * spec.n_images + 10), spec.n_images, replace=False)
    sizes = rng.poisson(spec.people_per_image, spec.n_images)
    sizes[rng.random(spec.n_images) < spec.empty_image_fraction] = 0
    bbox, area, kpts, crowd = _make_people(rng, spec, sizes)
    n = len(bbox)
    owner = np.repeat(image_ids, sizes)
    categories = rng.integers(1, spec.n_categories + 1, n) if spec.n_categories > 1 else np.ones(n, np.int64)
    ann_ids = rng.choice(np.arange(1, 20 * n + 10), n, replace=False)
    bbox, area = _round(bbox, spec.float32), _round(area, spec.float32)
    annotations = []
    for i in range(n):
        labelled = kpts[i, :, 2] > 0
        ann = {
            "id": int(ann_ids[i]), "image_id": int(owner[i]), "category_id": int(categories[i]),
            "bbox": bbox[i].tolist(), "area": float(area[i]), "iscrowd": int(crowd[i]),
            "num_keypoints": int(labelled[PART_SLICES["body"]].sum()), "segmentation": [],
        }
        for part, field in JSON_KEYPOINT_FIELDS.items():
            block = kpts[i, PART_SLICES[part]]
            flat = block.reshape(-1).tolist()
            # Visibility flags mix ints and floats (0, 2, 1.0 ...), as the real files do.
            flat[2::3] = [int(v) if j % 3 else float(v) for j, v in enumerate(block[:, 2])]
            ann[field] = flat
            if part != "body":
                ann[f"{part}_valid"] = bool(labelled[PART_SLICES[part]].any())
            if part in ("face", "lefthand", "righthand"):
                ann[f"{part}_box"] = bbox[i].tolist() if labelled[PART_SLICES[part]].any() else [0.0, 0.0, 0.0, 0.0]
        annotations.append(ann)
    images = [{"id": int(i), "file_name": f"{int(i):012d}.jpg", "width": 640, "height": 480} for i in image_ids]
    # One more category than is used, so a category with no people at all is exercised too.
    categories_list = [{"id": c, "name": f"person{c}", "supercategory": "person"} for c in range(1, spec.n_categories + 2)]
    gt = {"images": images, "annotations": annotations, "categories": categories_list}
    return gt, image_ids, owner, categories, bbox, area, kpts


def _instance_scores(rng: np.random.Generator, spec: SyntheticSpec, quality: np.ndarray) -> np.ndarray:
    """Scores in (0, 1]: quality in [0, 1] plus noise, or one of ``tie_levels`` values."""
    raw = np.clip(0.2 + 0.7 * quality + rng.normal(0.0, 0.15, len(quality)), 0.01, 1.0)
    if spec.tie_levels > 0:
        return np.ceil(raw * spec.tie_levels) / spec.tie_levels
    return raw


def make_synthetic(seed: int, spec: SyntheticSpec | None = None) -> tuple[dict, list[dict]]:
    """A (ground-truth dict, results list) pair in COCO-WholeBody JSON layout."""
    spec = spec or SyntheticSpec()
    rng = np.random.default_rng(seed)
    gt, image_ids, owner, categories, bbox, area, kpts = _ground_truth(rng, spec)
    # Results near people: each point moves by c * 2 sigma * sqrt(area) * N(0, 1), c per result,
    # so the OKS of a copy spreads over the whole 0.5..0.95 threshold range.
    copies = rng.poisson(spec.results_per_person, len(bbox))
    src = np.repeat(np.arange(len(bbox)), copies)
    near = kpts[src].copy()
    noise = rng.uniform(0.0, 2.5, len(src))
    scale = noise[:, None] * 2 * SIGMAS[None, :] * np.sqrt(area[src])[:, None]
    unlabelled = near[:, :, 2] <= 0
    near[:, :, 0] = np.where(unlabelled, bbox[src, 0:1] + rng.random(near.shape[:2]) * bbox[src, 2:3], near[:, :, 0])
    near[:, :, 1] = np.where(unlabelled, bbox[src, 1:2] + rng.random(near.shape[:2]) * bbox[src, 3:4], near[:, :, 1])
    near[:, :, :2] += rng.standard_normal((len(src), 133, 2)) * scale[:, :, None]
    near_img, near_cat = owner[src], categories[src]
    # False positives: people made up anywhere in any image (with or without ground truth).
    n_false = rng.poisson(spec.false_per_image, spec.n_images)
    false_img = np.repeat(image_ids, n_false)
    fbbox, _, far, _ = _make_people(rng, spec, np.array([len(false_img)]))
    far[:, :, 2] = 1.0
    false_cat = rng.integers(1, spec.n_categories + 2, len(false_img))  # includes the empty category
    det = np.concatenate([near, far])
    det_img = np.concatenate([near_img, false_img])
    det_cat = np.concatenate([near_cat, false_cat])
    det[:, :, 2] = rng.uniform(0.0, 1.0, det.shape[:2])
    for part, sl in PART_SLICES.items():
        det[rng.random(len(det)) < spec.zero_part_prob, sl, 2] = 0.0  # dropped for that part
    det[:, :, :2] = _round(det[:, :, :2], spec.float32)
    det[:, :, 2] = _round(det[:, :, 2], spec.float32)
    order = rng.permutation(len(det))  # file order mixes images, as a real writer may
    det, det_img, det_cat = det[order], det_img[order], det_cat[order]
    # Scores follow quality loosely (closer copies score higher), so AP spans a useful range.
    quality = np.concatenate([1.0 - noise / 2.5, np.zeros(len(false_img))])[order]
    scores = _round(_instance_scores(rng, spec, quality), spec.float32)
    results = []
    for i in range(len(det)):
        rec = {"image_id": int(det_img[i]), "category_id": int(det_cat[i]), "score": float(scores[i])}
        for part, field in JSON_KEYPOINT_FIELDS.items():
            rec[field] = det[i, PART_SLICES[part]].reshape(-1).tolist()
        results.append(rec)
    _add_part_scores(rng, spec, results, quality)
    return gt, results


def _add_part_scores(rng: np.random.Generator, spec: SyntheticSpec, results: list[dict], quality: np.ndarray) -> None:
    if spec.score_fields == "none":
        return
    for part in PARTS[1:] + ("wholebody",):
        field = JSON_SCORE_FIELDS[part]
        values = _round(_instance_scores(rng, spec, quality), spec.float32)
        present = rng.random(len(results)) < (1.0 if spec.score_fields == "all" else 0.5)
        for rec, value, keep in zip(results, values.tolist(), present.tolist()):
            if keep:
                rec[field] = value
