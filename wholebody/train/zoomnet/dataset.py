"""Top-down training/evaluation samples from a COCO-WholeBody annotation file.

One sample per usable person: not a crowd, at least one labelled body point (what COCO's
``num_keypoints`` counts), a box of positive size (mmpose's filter).  A malformed annotation
record is logged with the file, record id and field, and left out (``TrainingSet.skipped``);
an unreadable image is logged with its path and record id when its sample is drawn, and the
sample is dropped from the batch (``batch["skipped"]``), so an epoch never stops on bad data.

Randomness is per sample, seeded by (seed, epoch, index): the same epoch gives the same crops
whatever the number of workers or processes, which makes resumed runs identical.

A sample is what crosses the worker boundary, so it is kept small: the crop as uint8 (384x288:
0.33 MB; the bilinear crop rounded to the nearest level, ``warp_image_uint8``) and the crop-space labels of
``wholebody.train.zoomnet.labels`` (a few KB).  The heatmap targets are built on the training
device by ``wholebody.train.zoomnet.targets.build_targets``, where the crop also becomes float.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from wholebody.data.cocowb import GroundTruth, load_ground_truth, read_json_file
from wholebody.data.errors import AnnotationError, ImageError
from wholebody.data.images import read_image
from wholebody.train.zoomnet.labels import hrnet133_labels, zoomnet_labels
from wholebody.models.zoomnet.transforms import AugmentConfig, sample_geometry, transform_keypoints, transform_part_valid, warp_image_uint8

log = logging.getLogger(__name__)


@dataclass
class TrainingSet:
    """Validated ground truth, the rows used as samples, and what was skipped (messages)."""

    gt: GroundTruth
    rows: np.ndarray
    images_dir: Path
    skipped: list[str] = field(default_factory=list)

    def image_path(self, row: int) -> Path:
        return self.images_dir / str(self.gt.images[int(self.gt.image_ids[row])].get("file_name", ""))


def _load_skipping_bad_records(path: str) -> tuple[GroundTruth, list[str]]:
    """Validate record by record; keep the good ones (the file-level structure must be sound)."""
    data = read_json_file(path)  # reads NaN literals: they must cost one record, not the file
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) or not isinstance(data.get("annotations"), list):
        raise AnnotationError(path, None, None, "needs 'images' and 'annotations' lists")
    images = {img.get("id"): img for img in data["images"] if isinstance(img, dict)}
    good, skipped, seen = [], [], set()
    for index, ann in enumerate(data["annotations"]):
        record = ann.get("id", f"annotations[{index}]") if isinstance(ann, dict) else f"annotations[{index}]"
        try:
            if isinstance(ann, dict) and ann.get("id") in seen:
                raise AnnotationError(path, record, "id", "duplicate annotation id")
            image = images.get(ann.get("image_id")) if isinstance(ann, dict) else None
            load_ground_truth({"images": [image] if image else [], "annotations": [ann], "categories": []})
        except AnnotationError as err:
            message = f"{path}: record {record}: {err.reason if err.field is None else err.field + ': ' + err.reason}"
            log.warning("skipping bad annotation: %s", message)
            skipped.append(message)
            continue
        seen.add(ann["id"])
        good.append(ann)
    gt = load_ground_truth({**data, "annotations": good})
    gt.path = path  # later messages name the file, not "<memory>"
    return gt, skipped


def load_training_set(annotations: str | Path, images_dir: str | Path) -> TrainingSet:
    """Load ``annotations`` (COCO-WholeBody JSON) and pick the usable people."""
    path = str(annotations)
    skipped: list[str] = []
    try:
        gt = load_ground_truth(path)
    except AnnotationError as err:
        if err.record is None:  # the file itself is unusable (missing, not JSON, no lists)
            raise
        gt, skipped = _load_skipping_bad_records(path)
    body_labelled = (gt.keypoints[:, :17, 2] > 0).sum(axis=1)
    usable = ~gt.iscrowd & (body_labelled > 0) & (gt.bbox[:, 2] > 0) & (gt.bbox[:, 3] > 0)
    rows = np.flatnonzero(usable)
    log.info("%s: %d people, %d usable for top-down training, %d bad records skipped", path, len(gt), len(rows), len(skipped))
    return TrainingSet(gt, rows, Path(images_dir), skipped)


class TopDownDataset(torch.utils.data.Dataset):
    """Person crops (uint8) and crop-space labels for one architecture.

    Args:
        data: the :class:`TrainingSet`.
        architecture: ``"zoomnet"`` or ``"hrnet133"``.
        model_config: the model's config (input size; ZoomNet RoI settings).
        augment: augmentation settings, or None for plain crops (evaluation).
        seed: base of the per-sample random seeds.
    """

    def __init__(self, data: TrainingSet, architecture: str, model_config, augment: AugmentConfig | None = None,
                 seed: int = 0) -> None:
        self.data, self.architecture, self.config = data, architecture, model_config
        self.augment, self.seed, self.epoch = augment, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.data.rows)

    def __getitem__(self, index: int) -> dict:
        gt, row = self.data.gt, int(self.data.rows[index])
        path = self.data.image_path(row)
        try:
            image = read_image(path)
        except ImageError as err:
            message = f"{err} (record {int(gt.ann_ids[row])})"
            log.warning("skipping sample: %s", message)
            return {"skipped": message}
        rng = None if self.augment is None else np.random.default_rng([self.seed, self.epoch, index])
        augment = self.augment or AugmentConfig.none()
        input_size = tuple(self.config.input_size)
        geometry = sample_geometry(gt.bbox[row], gt.keypoints[row], input_size, augment, rng)
        keypoints = transform_keypoints(gt.keypoints[row], geometry)
        valid = transform_part_valid({p: bool(f[row]) for p, f in gt.part_valid.items()}, geometry.flip)
        if self.architecture == "zoomnet":
            labels = zoomnet_labels(keypoints, valid, input_size, self.config.roi_enlarge, self.config.min_roi_size,
                                    rng, augment.roi_jitter_shift, augment.roi_jitter_scale)
        else:
            labels = hrnet133_labels(keypoints, valid)
        return {
            "image": warp_image_uint8(image, geometry.matrix, input_size),
            "labels": labels,
            "meta": {"row": row, "ann_id": int(gt.ann_ids[row]), "image_id": int(gt.image_ids[row]),
                     "matrix": torch.from_numpy(geometry.matrix)},
        }


def collate(samples: list[dict]) -> dict:
    """Stack good samples; skipped ones are only listed (``batch["skipped"]``: messages).

    ``batch["images"]`` (B, 3, H, W) uint8, ``batch["labels"]`` the stacked labels."""
    good = [s for s in samples if "skipped" not in s]
    batch: dict = {"skipped": [s["skipped"] for s in samples if "skipped" in s], "size": len(good)}
    if not good:
        return batch
    batch["images"] = torch.stack([s["image"] for s in good])
    batch["labels"] = {k: torch.stack([s["labels"][k] for s in good]) for k in good[0]["labels"]}
    batch["meta"] = {k: (torch.stack([s["meta"][k] for s in good]) if torch.is_tensor(good[0]["meta"][k])
                         else [s["meta"][k] for s in good]) for k in good[0]["meta"]}
    return batch
