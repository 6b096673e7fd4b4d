"""DopeEstimator: image checks, people sorted by score, person boxes accepted and unused."""

import numpy as np
import pytest
import torch

from wholebody.models.dope.network import dope_tiny
from wholebody.models.dope.infer import DopeEstimator, image_tensor

torch.set_num_threads(1)


def test_image_tensor_checks_and_scales():
    image = np.full((4, 5, 3), 255, np.uint8)
    tensor = image_tensor(image)
    assert tensor.shape == (3, 4, 5) and torch.all(tensor == 1)
    for bad in (np.zeros((4, 5), np.uint8), np.zeros((4, 5, 3), np.float32)):
        with pytest.raises(ValueError, match="uint8 RGB"):
            image_tensor(bad)


def test_estimator_returns_sorted_people_and_ignores_boxes():
    torch.manual_seed(0)
    model = dope_tiny(min_size=96, max_size=128)
    for part in ("body", "hand", "face"):  # anchors in the box centre: every decoded pose is finite
        anchors = model.anchor_poses(part)
        model.set_anchor_poses(part, torch.cat([torch.full((*anchors.shape[:2], 2), 0.5), torch.zeros((*anchors.shape[:2], 3))], -1))
    image = (np.random.default_rng(0).random((80, 120, 3)) * 255).astype(np.uint8)
    nms = DopeEstimator(model, part_kwargs={p: {"min_score": 0.0} for p in ("body", "hand", "face")})
    assert nms.method == "nms"  # the default
    people = nms(image)
    assert people and [p.score for p in people] == sorted((p.score for p in people), reverse=True)
    estimator = DopeEstimator(model, method="ppi", part_kwargs={p: {"th_detect": 0.0} for p in ("body", "hand", "face")})
    people = estimator(image)
    assert people and [p.score for p in people] == sorted((p.score for p in people), reverse=True)
    again = estimator(image, person_boxes=np.array([[0, 0, 10, 10]]), person_scores=np.array([1.0]))
    assert len(again) == len(people)
    detections = estimator.detect([image])[0]
    assert set(detections) == {"body", "hand", "face"}
