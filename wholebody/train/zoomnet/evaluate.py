"""Evaluation hook: predict every ground-truth person box and score with our COCO-WholeBody evaluator.

The protocol of mmpose's top-down evaluation with ground-truth boxes (box score 1): one crop per
usable person (the training filter), flip test, rescoring by the mean keypoint score above 0.2,
then ``wholebody.eval.cocoeval.evaluate`` against the full annotation file (people that were
not predicted, e.g. crowds, are ignored by the evaluator's own rules).  An image that cannot be
read is logged with its path and record ids and its people are left out (counted).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import torch

from wholebody.data.cocowb import load_results, result_entry
from wholebody.data.errors import ImageError
from wholebody.data.images import read_image
from wholebody.eval.cocoeval import evaluate
from wholebody.models.zoomnet.topdown import crop_people, predict_crops, rescore
from wholebody.train.zoomnet.dataset import TrainingSet

log = logging.getLogger(__name__)


@dataclass
class EvalReport:
    """``stats[part][stat]`` as the evaluator gives them, the results list and what was skipped."""

    stats: dict[str, dict[str, float]]
    results: list[dict]
    rows: list[int]  # ground-truth row of each result
    skipped: list[str] = field(default_factory=list)

    @property
    def wholebody_ap(self) -> float:
        return float(self.stats["wholebody"]["AP"])


def predict_dataset(model: torch.nn.Module, data: TrainingSet, flip_test: bool = True, method: str = "default",
                    batch_size: int = 32) -> tuple[list[dict], list[int], list[str]]:
    """COCO-WholeBody results entries for every usable person of ``data`` (ground-truth boxes),
    the ground-truth row each one was predicted from, and the skipped images (messages)."""
    by_image: dict[int, list[int]] = defaultdict(list)
    for row in data.rows:
        by_image[int(data.gt.image_ids[row])].append(int(row))
    results, result_rows, skipped = [], [], []
    input_size = tuple(model.config.input_size)
    for image_id, rows in by_image.items():
        path = data.image_path(rows[0])
        try:
            image = read_image(path)
        except ImageError as err:
            message = f"{err} (records {[int(data.gt.ann_ids[r]) for r in rows]})"
            log.warning("evaluation: skipping image: %s", message)
            skipped.append(message)
            continue
        crops, matrices = crop_people(image, data.gt.bbox[rows], input_size)
        keypoints, _ = predict_crops(model, crops, matrices, flip_test, method, batch_size)
        for row, kp in zip(rows, keypoints):
            results.append(result_entry(image_id, kp, rescore(1.0, kp[:, 2])))
            result_rows.append(row)
    return results, result_rows, skipped


def evaluate_model(model: torch.nn.Module, data: TrainingSet, flip_test: bool = True, method: str = "default",
                   batch_size: int = 32) -> EvalReport:
    """AP/AR of ``model`` on ``data`` with ground-truth boxes (see the module docstring)."""
    was_training = model.training
    results, rows, skipped = predict_dataset(model, data, flip_test, method, batch_size)
    model.train(was_training)
    if not results:
        stats = {part: {"AP": 0.0} for part in ("body", "foot", "face", "lefthand", "righthand", "wholebody")}
        return EvalReport(stats, results, rows, skipped)
    evaluation = evaluate(data.gt, load_results(results, gt=data.gt))
    stats = {part: {k: float(v) for k, v in values.items()} for part, values in evaluation.stats.items()}
    return EvalReport(stats, results, rows, skipped)


def format_stats(stats: dict[str, dict[str, float]]) -> str:
    """One line: AP per part."""
    return "  ".join(f"{part} AP {values['AP']:.3f}" for part, values in stats.items())


def mean_keypoint_error(report: EvalReport, data: TrainingSet) -> float:
    """Mean pixel distance between predicted and labelled points over all results (diagnostics)."""
    errors = []
    for entry, row in zip(report.results, report.rows):
        pred = np.concatenate([np.reshape(entry[k], (-1, 3)) for k in
                               ("keypoints", "foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts")])
        labelled = data.gt.keypoints[row, :, 2] > 0
        errors.append(np.linalg.norm(pred[labelled, :2] - data.gt.keypoints[row, labelled, :2], axis=1))
    return float(np.concatenate(errors).mean()) if errors else float("nan")
