"""Pose NMS and PPI candidate selection on the device: same detections as the host numpy path,
and a few host syncs whatever the number of proposals.

``dope_nms_numpy_reference`` is the numpy NMS as it was; inputs are random crowds (exact score
ties, duplicated poses), empty outputs, and a DOPE network's raw outputs on the fixture images.
Host syncs are counted without a GPU: the operators that need a device value on the host, from
a CPU profile (``train.host_syncs``), plus every call of ``post_device.to_host`` (the module's
only copy to the host, which a CPU profile cannot see).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dope_nms_numpy_reference as numpy_reference
from dope_fixture_outputs import tiny_dope_outputs
from wholebody.models.dope import post_device
from wholebody.models.dope.layout import PART_NAMES
from wholebody.models.dope.post import detect_parts, pose_nms, ppi
from wholebody.train.host_syncs import count_host_syncs

torch.set_num_threads(1)


def _same(new, old):
    assert len(new) == len(old)
    for a, b in zip(new, old):
        assert (a.part, a.is_right) == (b.part, b.is_right)
        assert a.score == b.score  # float64 on both paths: bit-identical
        for field in ("pose2d", "pose3d", "box"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def crowd(seed: int, proposals: int, classes: int = 4, joints: int = 5, people: int = 6):
    """float32 outputs of proposals around a few people; some proposals exact copies of others
    (tied scores and identical pose boxes) and some with tied best classes."""
    rng = np.random.default_rng(seed)
    centre = rng.uniform(0, 400, (people, 2))[rng.integers(0, people, proposals)]
    size = rng.uniform(30, 80, (proposals, 1))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], 1) + rng.normal(0, 6, (proposals, 4))
    logits = rng.normal(0, 2, (proposals, classes + 1))
    logits[::5, 2] = logits[::5, 1]  # two classes tied for best
    scores = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    pose2d = centre[:, None, None] + rng.normal(0, 15, (proposals, classes, joints, 2))
    pose3d = rng.normal(0, 0.3, (proposals, classes, joints, 3))
    copies = slice(1, None, 7)
    scores[copies], pose2d[copies] = scores[::7][: len(scores[copies])], pose2d[::7][: len(pose2d[copies])]
    return [a.astype(np.float32) for a in (boxes, scores, pose2d, pose3d)]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("min_score, iou", [(0.3, 0.5), (0.1, 0.1), (0.0, 0.7), (0.0, 0.0)])
def test_device_nms_matches_the_numpy_path_on_random_crowds(seed, min_score, iou):
    data = crowd(seed, proposals=400)
    tensors = [torch.from_numpy(a) for a in data]
    old = numpy_reference.pose_nms("hand", *data, min_score=min_score, iou=iou, hand_classes_per_side=2)
    assert old or min_score > 0.2
    _same(pose_nms("hand", *tensors, min_score=min_score, iou=iou, hand_classes_per_side=2), old)
    _same(pose_nms("hand", *data, min_score=min_score, iou=iou, hand_classes_per_side=2), old)  # arrays too


def test_a_score_equal_to_min_score_is_kept():
    data = crowd(4, proposals=200)
    best = data[1][:, 1:].max(axis=1)
    threshold = float(np.sort(best)[-20])  # exactly one proposal's score (float32 -> float64 exactly)
    old = numpy_reference.pose_nms("body", *data, min_score=threshold, iou=0.9)
    assert any(d.score == threshold for d in old)
    _same(pose_nms("body", *map(torch.from_numpy, data), min_score=threshold, iou=0.9), old)


def test_empty_outputs_and_nothing_above_the_threshold():
    boxes, scores, pose2d, pose3d = crowd(0, proposals=30)
    assert pose_nms("body", boxes[:0], scores[:0], pose2d[:0], pose3d[:0]) == []
    assert pose_nms("body", boxes, scores, pose2d, pose3d, min_score=1.5) == []
    assert ppi("body", boxes[:0], scores[:0], pose2d[:0], pose3d[:0]) == []
    assert ppi("body", boxes, scores, pose2d, pose3d, score_th=1.5) == []


def test_detect_parts_matches_the_numpy_path_on_network_outputs(fixtures_dir):
    compared = 0
    for model, out in tiny_dope_outputs(fixtures_dir):
        for settings in ({}, {"min_score": 0.0}, {"min_score": 0.0, "iou": 0.1}):
            kwargs = {part: dict(settings) for part in PART_NAMES}
            new = detect_parts(out, PART_NAMES, model.hand_classes_per_side, "nms", kwargs)
            old = numpy_reference.detect_parts_nms(out, PART_NAMES, model.hand_classes_per_side, kwargs)
            for part in PART_NAMES:
                _same(new[part], old[part])
                compared += len(new[part])
    assert compared > 0


def _syncs(monkeypatch, fn) -> tuple[int, int]:
    """(host copies through to_host, operators that read a device value) while running ``fn``."""
    copies = []
    original = post_device.to_host
    monkeypatch.setattr(post_device, "to_host", lambda tensor: copies.append(1) or original(tensor))
    ops, _ = count_host_syncs(fn)
    return len(copies), ops


@pytest.mark.parametrize("proposals", [20, 200, 1000])
def test_nms_of_all_parts_needs_a_few_host_syncs_whatever_the_proposal_count(monkeypatch, proposals):
    boxes, *_ = crowd(1, proposals)
    out = {"boxes": torch.from_numpy(boxes)}
    for i, part in enumerate(PART_NAMES):
        _, scores, pose2d, pose3d = crowd(10 + i, proposals, joints=3 + i)
        out |= {f"{part}_scores": torch.from_numpy(scores), f"{part}_pose2d": torch.from_numpy(pose2d),
                f"{part}_pose3d": torch.from_numpy(pose3d)}
    kwargs = {part: {"min_score": 0.0} for part in PART_NAMES}
    result = {}
    copies, ops = _syncs(monkeypatch, lambda: result.update(detect_parts(out, PART_NAMES, 2, "nms", kwargs)))
    assert sum(map(len, result.values())) > 0
    assert copies == 3  # the filtered and the kept counts, then the detections of all three parts at once
    assert ops <= 5  # the fixed point's convergence checks: O(log of the longest suppression chain)


def test_ppi_copies_only_its_candidates_once(monkeypatch):
    data = [torch.from_numpy(a) for a in crowd(2, 500)]
    copied = []
    original = post_device.to_host
    monkeypatch.setattr(post_device, "to_host", lambda tensor: copied.append(tensor.numel()) or original(tensor))
    assert ppi("body", *data, score_th=0.5)
    assert len(copied) == 1  # the grouping after it runs on host arrays: no more copies
    ops, by_name = count_host_syncs(lambda: post_device.ppi_candidates(*data, threshold=0.5))
    assert by_name == {"aten::nonzero": 1} and ops == 1
    candidates = int((data[1][:, 1:] >= 0.5).sum())
    assert 0 < candidates < len(data[0])
    assert copied[0] == candidates * (3 + 5 * 5) + 4 * len(data[0])  # not the N x K x J outputs


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_same_detections_from_cuda_outputs():
    data = crowd(3, proposals=1000)
    old = numpy_reference.pose_nms("face", *data, min_score=0.1)
    _same(pose_nms("face", *(torch.from_numpy(a).cuda() for a in data), min_score=0.1), old)
    _same(ppi("face", *(torch.from_numpy(a).cuda() for a in data)), ppi("face", *data))
