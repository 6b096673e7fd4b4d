"""What a DataLoader worker ships per person crop besides the uint8 crop: crop-space labels.

The heatmap targets themselves (a few MB per sample in float32) are built on the training device
from these labels, batched (``wholebody.train.zoomnet.targets.build_targets``).  A sample's labels
are a few KB:

* ``keypoints`` (133, 2) float64: x, y in crop pixels (pixel-corner origin), after the flip
  relabelling; float64 so the device computes the same cell positions as the CPU would;
* ``weights`` (133,) float32: 1 where a point is labelled and its part valid (``*_valid``), else 0;
  whether it lies inside a heatmap is decided on the device;
* ZoomNet only: ``part_boxes`` (3, 4) float64 tight ``x1, y1, x2, y2`` boxes around each part of
  ``PART_BOXES`` (zeros when fewer than 2 labelled points), ``part_box_weight`` (3,) float32 (1 when
  the box exists) and ``rois`` (3, 4) float32, the RoIs the part heads see (tight box, jittered
  when training, squared and enlarged like at inference; a centred placeholder without a box).

The random RoI jitter is drawn here, from the sample's own generator, in the order the sample's
other random draws expect, so a sample is the same whatever the number of workers.
"""

from __future__ import annotations

import numpy as np
import torch

from wholebody.models.zoomnet.network import PART_BOXES, part_rois
from wholebody.schema import PART_SLICES

VALIDITY_PARTS = ("foot", "face", "lefthand", "righthand")


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


def jitter_box(box: np.ndarray, rng: np.random.Generator | None, shift: float, scale: float) -> np.ndarray:
    """Randomly move (by +- shift x size) and resize (x 1 +- scale) a box; unchanged without rng."""
    if rng is None or (shift == 0 and scale == 0):
        return box
    centre = (box[:2] + box[2:]) / 2 + rng.uniform(-1, 1, 2) * shift * (box[2:] - box[:2])
    half = (box[2:] - box[:2]) / 2 * rng.uniform(1 - scale, 1 + scale)
    return np.concatenate([centre - half, centre + half])


def hrnet133_labels(keypoints: np.ndarray, part_valid: dict[str, bool]) -> dict[str, torch.Tensor]:
    """Labels of an HRNet-133 sample: ``keypoints`` (133, 3+) already in crop pixels."""
    return {"keypoints": torch.from_numpy(np.ascontiguousarray(keypoints[:, :2], dtype=np.float64)),
            "weights": torch.from_numpy(point_weights(keypoints, part_valid).astype(np.float32))}


def zoomnet_labels(keypoints: np.ndarray, part_valid: dict[str, bool], input_size: tuple[int, int],
                   roi_enlarge: float, min_roi: float, rng: np.random.Generator | None = None,
                   jitter_shift: float = 0.0, jitter_scale: float = 0.0) -> dict[str, torch.Tensor]:
    """Labels of a ZoomNet sample (module docstring); ``input_size`` is the crop (height, width)."""
    labels = hrnet133_labels(keypoints, part_valid)
    weights = labels["weights"].numpy().astype(np.float64)
    centre = np.array([input_size[1] / 2, input_size[0] / 2])
    boxes, box_weight, rois = np.zeros((len(PART_BOXES), 4)), np.zeros(len(PART_BOXES), np.float32), []
    for index, part in enumerate(PART_BOXES):
        box = tight_part_box(keypoints, weights, part)
        if box is None:  # no box target; a placeholder RoI whose head loss is masked out
            box = np.concatenate([centre - min_roi / 2, centre + min_roi / 2])
        else:
            boxes[index], box_weight[index] = box, 1.0
        rois.append(jitter_box(box, rng, jitter_shift, jitter_scale))
    labels.update(part_boxes=torch.from_numpy(boxes), part_box_weight=torch.from_numpy(box_weight),
                  rois=part_rois(torch.tensor(np.stack(rois)), roi_enlarge, min_roi).float())
    return labels
