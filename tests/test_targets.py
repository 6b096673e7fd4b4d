"""Heatmap targets built from crop-space labels: Gaussian placement and sigma, weights, ZoomNet box
maps, RoIs and head targets (one sample as a batch of 1; batched parity: test_device_targets.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wholebody.schema import PART_SLICES
from wholebody.models.zoomnet.decode import decode_heatmaps
from wholebody.train.zoomnet.labels import hrnet133_labels, jitter_box, point_weights, tight_part_box, zoomnet_labels
from wholebody.train.zoomnet.targets import gaussian_heatmaps, hrnet133_targets, sigma_for, zoomnet_targets

torch.set_num_threads(1)


def test_sigma_by_resolution():
    assert sigma_for(64) == 2.0 and sigma_for(96) == 3.0


def test_gaussian_peaks_at_the_point_and_masks_outside_or_unlabelled():
    points = np.array([[10.5, 20.5], [13.2, 7.9], [-1.0, 5.0], [5.0, 5.0]])
    maps, weights = gaussian_heatmaps(torch.from_numpy(points), torch.tensor([1, 1, 1, 0]), (32, 24), sigma=2.0)
    assert maps.shape == (4, 32, 24) and maps.dtype == torch.float32
    maps = maps.numpy()
    assert weights.tolist() == [1, 1, 0, 0]
    assert maps[0, 20, 10] == pytest.approx(1.0)  # a point at a cell centre: peak exactly 1 there
    assert np.unravel_index(maps[1].argmax(), maps[1].shape) == (7, 13)
    assert maps[1, 7, 12] == pytest.approx(np.exp(-(0.7**2 + 0.4**2) / 8))  # cell centre (12.5, 7.5): exact centre
    assert not maps[2].any() and not maps[3].any()
    coords, _ = decode_heatmaps(torch.from_numpy(maps[None, :2]), "dark")  # the encoding decodes back
    assert np.allclose(coords[0].numpy(), points[:2], atol=0.02)


def test_gaussian_heatmaps_are_batched_over_leading_dimensions():
    points = torch.tensor([[[3.5, 4.5], [1e9, 2.0]], [[float("nan"), 1.0], [7.25, 2.75]]])
    maps, weights = gaussian_heatmaps(points, torch.ones(2, 2), (8, 10), sigma=1.0)
    assert maps.shape == (2, 2, 8, 10) and weights.tolist() == [[1, 0], [0, 1]]
    single, _ = gaussian_heatmaps(points[1, 1:], torch.ones(1), (8, 10), sigma=1.0)
    assert torch.equal(maps[1, 1], single[0]) and not maps[0, 1].any() and not maps[1, 0].any()


def test_point_weights_follow_labels_and_part_validity():
    keypoints = np.zeros((133, 3))
    keypoints[:, 2] = 2
    keypoints[5, 2] = 0
    weights = point_weights(keypoints, {"foot": True, "face": False, "lefthand": True, "righthand": False})
    assert weights[5] == 0 and weights[:5].all() and weights[PART_SLICES["foot"]].all()
    assert not weights[PART_SLICES["face"]].any() and not weights[PART_SLICES["righthand"]].any()
    assert weights[PART_SLICES["lefthand"]].all()


def person(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Random labelled keypoints inside a 192x256 crop, a left hand in a known box, no right hand."""
    keypoints = np.concatenate([rng.uniform(20, 170, (133, 2)), np.full((133, 1), 2.0)], axis=1)
    keypoints[PART_SLICES["lefthand"], :2] = rng.uniform([40, 100], [60, 116], (21, 2))
    keypoints[PART_SLICES["face"], :2] = rng.uniform([80, 30], [110, 70], (68, 2))
    keypoints[PART_SLICES["righthand"], 2] = 0
    return keypoints, {"foot": True, "face": True, "lefthand": True, "righthand": False}


def one_sample_targets(labels: dict) -> dict:
    """Targets of one sample: its labels as a batch of 1, the batch dimension dropped again."""
    return {k: v[0] for k, v in zoomnet_targets({k: v[None] for k, v in labels.items()}, (256, 192), 64).items()}


def test_zoomnet_targets_boxes_rois_and_head_maps():
    keypoints, valid = person(np.random.default_rng(0))
    t = one_sample_targets(zoomnet_labels(keypoints, valid, (256, 192), roi_enlarge=1.25, min_roi=8.0))
    assert t["body"].shape == (23, 64, 48) and t["boxes"].shape == (15, 64, 48)
    assert t["face"].shape == (68, 64, 64) and t["lefthand"].shape == (21, 64, 64)
    # box maps: corners and centre of the tight left-hand box, in stride-4 cells
    box = tight_part_box(keypoints, np.ones(133), "lefthand")
    coords, _ = decode_heatmaps(t["boxes"][None, 5:10], "dark")
    x1, y1, x2, y2 = box / 4
    expected = [[x1, y1], [x2, y1], [x1, y2], [x2, y2], [(x1 + x2) / 2, (y1 + y2) / 2]]
    assert np.allclose(coords[0].numpy(), expected, atol=0.05)
    assert t["boxes_weight"][:10].all() and not t["boxes_weight"][10:].any()  # no right-hand box
    # RoI: a square of 1.25 x the longer side around the box centre
    roi = t["rois"][1].double().numpy()
    side = 1.25 * max(box[2] - box[0], box[3] - box[1])
    assert np.allclose(roi, [*(box[:2] + box[2:]) / 2 - side / 2, *(box[:2] + box[2:]) / 2 + side / 2], atol=1e-4)
    # head heatmaps decode to the keypoints in RoI cells
    coords, _ = decode_heatmaps(t["lefthand"][None], "dark")
    cells = (keypoints[PART_SLICES["lefthand"], :2] - roi[:2]) / side * 64
    assert np.allclose(coords[0].numpy(), cells, atol=0.05)
    assert not t["righthand_weight"].any() and t["lefthand_weight"].all()


def test_training_rois_are_jittered_reproducibly():
    keypoints, valid = person(np.random.default_rng(0))
    args = dict(input_size=(256, 192), roi_enlarge=1.25, min_roi=8.0, jitter_shift=0.1, jitter_scale=0.1)
    plain = zoomnet_labels(keypoints, valid, **args)["rois"]
    a = zoomnet_labels(keypoints, valid, rng=np.random.default_rng(3), **args)
    b = zoomnet_labels(keypoints, valid, rng=np.random.default_rng(3), **args)
    assert torch.equal(a["rois"], b["rois"]) and not torch.allclose(a["rois"], plain)
    box = np.array([10.0, 10.0, 30.0, 50.0])
    jittered = jitter_box(box, np.random.default_rng(0), 0.1, 0.1)
    assert np.abs((jittered[:2] + jittered[2:]) / 2 - [20, 30]).max() <= 0.1 * 40 + 1e-9
    assert 0.9 * 20 - 1e-9 <= jittered[2] - jittered[0] <= 1.1 * 20 + 1e-9


def test_hrnet133_targets_cover_all_points():
    keypoints, valid = person(np.random.default_rng(1))
    labels = hrnet133_labels(keypoints, valid)
    t = hrnet133_targets({k: v[None] for k, v in labels.items()}, (256, 192))
    assert t["wholebody"].shape == (1, 133, 64, 48)
    assert t["wholebody_weight"].sum() == 133 - 21  # the unlabelled right hand is masked
