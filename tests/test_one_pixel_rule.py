"""The 1-pixel rule for direct callers of every estimator: an image under
``wholebody.types.MIN_IMAGE_SIDE`` pixels on a side holds 0 people (as in ``predict``), with or
without person boxes, while a wrongly shaped or typed image is still refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wholebody.models.dope.network import dope_tiny
from wholebody.models.dope.infer import DopeEstimator
from wholebody.models.registry import build_model
from wholebody.models.zoomnet.topdown import TopDownEstimator
from wholebody.models.checkpoints import save_checkpoint
from wholebody.types import MIN_IMAGE_SIDE

torch.set_num_threads(1)
TINY_SHAPES = [(1, 1, 3), (1, 40, 3), (40, 1, 3), (0, 5, 3)]
BOXES = {"person_boxes": [[0, 0, 30, 30]], "person_scores": [0.9]}


def _no_detector(image):
    raise AssertionError("no detector should run on an image with no room for a person")


@pytest.fixture(scope="module")
def topdown(tmp_path_factory):
    model = build_model("hrnet133", tiny=True, input_size=(64, 48))
    path = tmp_path_factory.mktemp("ckpt") / "m.pt"
    save_checkpoint(path, {"architecture": "hrnet133", "config": model.config.to_dict(), "model": model.state_dict()})
    return TopDownEstimator(str(path), detector=_no_detector)


@pytest.fixture(scope="module")
def experts():
    pytest.importorskip("mediapipe", reason="the part experts need mediapipe==0.10.14's bundled models")
    pytest.importorskip("ai_edge_litert", reason="the part experts run the models with ai-edge-litert")
    from wholebody.experts import WholeBodyEstimator

    return WholeBodyEstimator(detector=_no_detector, part_detect=False)


@pytest.mark.parametrize("shape", TINY_SHAPES)
@pytest.mark.parametrize("boxes", [{}, BOXES], ids=["detect", "boxes"])
def test_topdown_and_dope_find_nobody_in_a_tiny_image(topdown, shape, boxes):
    image = np.zeros(shape, np.uint8)
    assert min(shape[:2]) < MIN_IMAGE_SIDE
    assert topdown(image, **boxes) == []
    assert DopeEstimator(dope_tiny(min_size=96, max_size=128))(image, **boxes) == []


@pytest.mark.parametrize("shape", TINY_SHAPES)
@pytest.mark.parametrize("boxes", [{}, BOXES], ids=["detect", "boxes"])
def test_the_experts_find_nobody_in_a_tiny_image(experts, shape, boxes):
    assert experts(np.zeros(shape, np.uint8), **boxes) == []


def test_a_2_pixel_image_is_processed_and_bad_arrays_are_still_refused(experts):
    assert experts(np.zeros((2, 2, 3), np.uint8), person_boxes=np.zeros((0, 4))) == []
    with pytest.raises(ValueError, match="uint8"):
        experts(np.zeros((1, 1, 3), np.float32))
    with pytest.raises(ValueError, match="uint8 RGB"):
        DopeEstimator(dope_tiny(min_size=96, max_size=128))(np.zeros((1, 1), np.uint8))
