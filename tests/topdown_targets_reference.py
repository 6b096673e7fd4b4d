"""Frozen reference: the top-down training pipeline as it was before targets moved to the device.

The per-sample CPU heatmap targets (NumPy, float64 then float32) and the sample of the old
``TopDownDataset.__getitem__`` (float32 crop + CPU targets), kept unchanged as the parity
reference of ``tests/test_device_targets.py`` and the "before" of ``benchmarks/data_speed.py``.
Do not edit to follow the library: it records what the library used to compute.
"""

from __future__ import annotations

import numpy as np
import torch

from wholebody.data.errors import ImageError
from wholebody.data.images import read_image
from wholebody.models.zoomnet.network import NUM_BODY_FOOT, PART_BOXES, part_rois
from wholebody.models.zoomnet.transforms import AugmentConfig, sample_geometry, transform_keypoints, transform_part_valid, warp_image
from wholebody.schema import PART_SLICES

VALIDITY_PARTS = ("foot", "face", "lefthand", "righthand")


def sigma_for(heatmap_height: int) -> float:
    """Gaussian sigma in cells: 2 at 64 rows, 3 at 96 rows (mmpose's choices), linear between."""
    return 2.0 * heatmap_height / 64.0


def gaussian_heatmaps(points: np.ndarray, weights: np.ndarray, size: tuple[int, int],
                      sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Heatmaps for (K, 2) points in continuous cell coordinates.

    Args:
        points: (K, 2) x, y in cells (pixel-corner origin: cell u spans [u, u+1)).
        weights: (K,) 1 for points to encode, 0 to skip.
        size: (height, width) in cells.
    Returns:
        heatmaps (K, h, w) float32 with peak 1 at the point, weights (K,) float32 (0 outside).
    """
    height, width = size
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    inside = (points[:, 0] >= 0) & (points[:, 0] < width) & (points[:, 1] >= 0) & (points[:, 1] < height)
    weights = (np.asarray(weights, dtype=np.float64) > 0) & inside & np.isfinite(points).all(axis=1)
    xs = np.arange(width) + 0.5 - points[:, 0:1]  # (K, w) distance of each cell centre
    ys = np.arange(height) + 0.5 - points[:, 1:2]
    gx = np.exp(-np.nan_to_num(xs) ** 2 / (2 * sigma**2))
    gy = np.exp(-np.nan_to_num(ys) ** 2 / (2 * sigma**2))
    maps = gy[:, :, None] * gx[:, None, :] * weights[:, None, None]
    return maps.astype(np.float32), weights.astype(np.float32)


def point_weights(keypoints: np.ndarray, part_valid: dict[str, bool]) -> np.ndarray:
    """(133,) 1 where a point is labelled and its part valid (body has no validity flag)."""
    weights = (keypoints[:, 2] > 0).astype(np.float64)
    for part in VALIDITY_PARTS:
        if not part_valid.get(part, True):
            weights[PART_SLICES[part]] = 0.0
    return weights


def tight_part_box(keypoints: np.ndarray, weights: np.ndarray, part: str) -> np.ndarray | None:
    """x1, y1, x2, y2 around a part's labelled points (crop pixels), or None with fewer than 2."""
    sl = PART_SLICES[part]
    points = keypoints[sl, :2][weights[sl] > 0]
    if len(points) < 2:
        return None
    return np.concatenate([points.min(axis=0), points.max(axis=0)])


def box_points(box: np.ndarray) -> np.ndarray:
    """The 5 box-map points: top-left, top-right, bottom-left, bottom-right, centre."""
    x1, y1, x2, y2 = box
    return np.array([[x1, y1], [x2, y1], [x1, y2], [x2, y2], [(x1 + x2) / 2, (y1 + y2) / 2]])


def jitter_box(box: np.ndarray, rng: np.random.Generator | None, shift: float, scale: float) -> np.ndarray:
    """Randomly move (by +- shift x size) and resize (x 1 +- scale) a box; unchanged without rng."""
    if rng is None or (shift == 0 and scale == 0):
        return box
    centre = (box[:2] + box[2:]) / 2 + rng.uniform(-1, 1, 2) * shift * (box[2:] - box[:2])
    half = (box[2:] - box[:2]) / 2 * rng.uniform(1 - scale, 1 + scale)
    return np.concatenate([centre - half, centre + half])


def hrnet133_targets(keypoints: np.ndarray, part_valid: dict[str, bool], input_size: tuple[int, int],
                     stride: int = 4) -> dict[str, torch.Tensor]:
    """133 heatmaps at 1/stride for keypoints already in crop pixels."""
    size = (input_size[0] // stride, input_size[1] // stride)
    maps, weights = gaussian_heatmaps(keypoints[:, :2] / stride, point_weights(keypoints, part_valid), size,
                                      sigma_for(size[0]))
    return {"wholebody": torch.from_numpy(maps), "wholebody_weight": torch.from_numpy(weights)}


def zoomnet_targets(keypoints: np.ndarray, part_valid: dict[str, bool], input_size: tuple[int, int],
                    part_size: int, roi_enlarge: float, min_roi: float, rng: np.random.Generator | None = None,
                    jitter_shift: float = 0.0, jitter_scale: float = 0.0, stride: int = 4) -> dict[str, torch.Tensor]:
    """ZoomNet targets for keypoints already in crop pixels.

    Returns tensors: ``body`` (23, h, w) + ``body_weight`` (23,); ``boxes`` (15, h, w) +
    ``boxes_weight`` (15,); ``rois`` (3, 4) part RoIs in crop pixels (ground-truth tight box,
    jittered when ``rng`` is given, then squared/enlarged like at inference); and per part of
    ``PART_BOXES`` its (n, S, S) heatmaps over the RoI with ``<part>_weight`` (n,).
    """
    size = (input_size[0] // stride, input_size[1] // stride)
    sigma = sigma_for(size[0])
    weights = point_weights(keypoints, part_valid)
    body, body_w = gaussian_heatmaps(keypoints[:NUM_BODY_FOOT, :2] / stride, weights[:NUM_BODY_FOOT], size, sigma)
    out = {"body": torch.from_numpy(body), "body_weight": torch.from_numpy(body_w)}
    box_points_all, box_weights, rois = [], [], []
    centre = np.array([input_size[1] / 2, input_size[0] / 2])
    for part in PART_BOXES:
        box = tight_part_box(keypoints, weights, part)
        if box is None:  # no box target; a placeholder RoI whose head loss is masked out
            box_points_all.append(np.zeros((5, 2)))
            box_weights.append(np.zeros(5))
            box = np.concatenate([centre - min_roi / 2, centre + min_roi / 2])
        else:
            box_points_all.append(box_points(box))
            box_weights.append(np.ones(5))
        rois.append(jitter_box(box, rng, jitter_shift, jitter_scale))
    box_maps, box_w = gaussian_heatmaps(np.concatenate(box_points_all) / stride, np.concatenate(box_weights), size, sigma)
    roi_tensor = part_rois(torch.tensor(np.stack(rois)), roi_enlarge, min_roi).float()
    out.update(boxes=torch.from_numpy(box_maps), boxes_weight=torch.from_numpy(box_w), rois=roi_tensor)
    part_sigma = sigma_for(part_size)
    for index, part in enumerate(PART_BOXES):
        x1, y1, x2, y2 = roi_tensor[index].double().numpy()
        sl = PART_SLICES[part]
        cells = (keypoints[sl, :2] - [x1, y1]) / np.array([x2 - x1, y2 - y1]) * part_size
        part_weights = weights[sl] * float(box_weights[index].any())
        maps, w = gaussian_heatmaps(cells, part_weights, (part_size, part_size), part_sigma)
        out[part], out[part + "_weight"] = torch.from_numpy(maps), torch.from_numpy(w)
    return out


def reference_sample(dataset, index: int) -> dict:
    """What ``TopDownDataset.__getitem__`` returned before: float32 crop 0..255 and CPU targets.

    ``dataset`` is a (new) ``TopDownDataset``: its data, architecture, config, augmentation, seed
    and epoch are used, with the same per-sample random generator, so the two agree sample by sample.
    """
    gt, row = dataset.data.gt, int(dataset.data.rows[index])
    try:
        image = read_image(dataset.data.image_path(row))
    except ImageError as err:
        return {"skipped": f"{err} (record {int(gt.ann_ids[row])})"}
    rng = None if dataset.augment is None else np.random.default_rng([dataset.seed, dataset.epoch, index])
    augment = dataset.augment or AugmentConfig.none()
    input_size = tuple(dataset.config.input_size)
    geometry = sample_geometry(gt.bbox[row], gt.keypoints[row], input_size, augment, rng)
    keypoints = transform_keypoints(gt.keypoints[row], geometry)
    valid = transform_part_valid({p: bool(f[row]) for p, f in gt.part_valid.items()}, geometry.flip)
    if dataset.architecture == "zoomnet":
        config = dataset.config
        targets = zoomnet_targets(keypoints, valid, input_size, config.part_crop, config.roi_enlarge,
                                  config.min_roi_size, rng, augment.roi_jitter_shift, augment.roi_jitter_scale)
    else:
        targets = hrnet133_targets(keypoints, valid, input_size)
    return {"image": warp_image(image, geometry.matrix, input_size), "targets": targets,
            "meta": {"row": row, "ann_id": int(gt.ann_ids[row]), "image_id": int(gt.image_ids[row]),
                     "matrix": torch.from_numpy(geometry.matrix)}}


def reference_collate(samples: list[dict]) -> dict:
    """The old collate: float crops and CPU targets stacked."""
    good = [s for s in samples if "skipped" not in s]
    return {"images": torch.stack([s["image"] for s in good]),
            "targets": {k: torch.stack([s["targets"][k] for s in good]) for k in good[0]["targets"]},
            "skipped": [s["skipped"] for s in samples if "skipped" in s], "size": len(good)}


class ReferenceDataset(torch.utils.data.Dataset):
    """The old dataset's samples (``reference_sample``) over a new ``TopDownDataset``."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        return reference_sample(self.dataset, index)
