"""Vectorised PPI and pose NMS give the detections of the per-candidate loops they replace.

``dope_post_reference`` holds the loops as they were; inputs are random crowds (clusters of
proposals, tied scores, both overlap rules, candidate sets larger than one block) and the raw
outputs of a DOPE network on the real fixture images.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dope_post_reference as reference
from dope_fixture_outputs import tiny_dope_outputs
from wholebody.models.dope import post as dope_post
from wholebody.models.dope.post import pose_nms, ppi

torch.set_num_threads(1)


def _same(new, old):
    assert len(new) == len(old)
    for a, b in zip(new, old):
        assert (a.part, a.is_right) == (b.part, b.is_right)
        np.testing.assert_allclose(a.score, b.score, rtol=1e-12)
        for field in ("pose2d", "pose3d", "box"):
            np.testing.assert_allclose(getattr(a, field), getattr(b, field), rtol=1e-12, atol=1e-12)


def crowd(seed: int, proposals: int = 300, classes: int = 4, joints: int = 5, people: int = 6):
    """Proposals scattered around a few people, peaked class scores, some exactly tied."""
    rng = np.random.default_rng(seed)
    centre = rng.uniform(0, 400, (people, 2))[rng.integers(0, people, proposals)]
    size = rng.uniform(30, 80, (proposals, 1))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], 1) + rng.normal(0, 6, (proposals, 4))
    logits = rng.normal(0, 2, (proposals, classes + 1))
    scores = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    scores[1::7] = scores[::7][: len(scores[1::7])]  # exact ties between proposals
    pose2d = centre[:, None, None] + rng.normal(0, 15, (proposals, classes, joints, 2))
    pose3d = rng.normal(0, 0.25, (people, classes, joints, 3))[rng.integers(0, people, proposals)]
    pose3d = pose3d + rng.normal(0, 0.05, pose3d.shape)
    return boxes, scores, pose2d, pose3d


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kwargs", [{}, {"overlap": "mje", "th_iou": 0.05}, {"overlap": "mje", "th_iou": 0.3},
                                    {"th_iou": 0.5, "th_pose3d": 0.1}, {"min_mode_score": 0.6, "th_pose3d": 0.3},
                                    {"score_th": 0.02, "min_mode_score": 0.2, "upper_body_from": 2,
                                     "lower_body_joints": (3, 4)}])
def test_ppi_matches_the_loop_on_random_crowds(seed, kwargs):
    data = crowd(seed)
    _same(ppi("body", *data, **kwargs), reference.ppi("body", *data, **kwargs))


def test_ppi_matches_across_block_boundaries(monkeypatch):
    """Small blocks: leaders found in earlier blocks must claim candidates of later ones."""
    monkeypatch.setattr(dope_post, "BLOCK", 7)
    for seed, overlap in [(10, "bbox"), (11, "mje")]:
        data = crowd(seed, proposals=120)
        _same(ppi("hand", *data, overlap=overlap, hand_classes_per_side=2),
              reference.ppi("hand", *data, overlap=overlap, hand_classes_per_side=2))


@pytest.mark.parametrize("seed", range(4))
def test_pose_nms_matches_the_loop(seed):
    data = crowd(seed, proposals=1000)
    for min_score, iou in [(0.3, 0.5), (0.1, 0.1), (0.0, 0.7)]:
        _same(pose_nms("face", *data, min_score=min_score, iou=iou), reference.pose_nms("face", *data, min_score=min_score, iou=iou))


def test_same_detections_on_network_outputs_of_fixture_images(fixtures_dir):
    from wholebody.models.dope.layout import PART_NAMES

    compared = 0
    for model, out in tiny_dope_outputs(fixtures_dir):
        for part in PART_NAMES:
            arrays = [out[key].double().numpy() for key in ("boxes", f"{part}_scores", f"{part}_pose2d", f"{part}_pose3d")]
            side = {"hand_classes_per_side": model.hand_classes_per_side}
            for kwargs in ({}, {"overlap": "mje", "th_iou": 0.05}):
                new = ppi(part, *arrays, **kwargs, **side)
                _same(new, reference.ppi(part, *arrays, **kwargs, **side))
                compared += len(new)
            _same(pose_nms(part, *arrays, min_score=0.0, **side), reference.pose_nms(part, *arrays, min_score=0.0, **side))
    assert compared > 0


def test_later_modes_below_min_mode_score_are_not_formed():
    """One strong candidate alone in 3D, ten weak ones together: the weak mode (total 2.0) is
    never formed when its top is below ``min_mode_score``, and wins when it is above."""
    boxes = np.tile([[10.0, 10.0, 60.0, 90.0]], (11, 1))
    scores = np.array([[0.1, 0.9]] + [[0.8, 0.2]] * 10)
    pose2d = np.zeros((11, 1, 3, 2))
    pose3d = np.zeros((11, 1, 3, 3))
    pose3d[0] = 1.0
    for min_mode_score, expected in [(0.5, 0.9), (0.1, 2.0)]:
        old = reference.ppi("body", boxes, scores, pose2d, pose3d, min_mode_score=min_mode_score)
        assert old[0].score == pytest.approx(expected)
        _same(ppi("body", boxes, scores, pose2d, pose3d, min_mode_score=min_mode_score), old)
