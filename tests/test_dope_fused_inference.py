"""DOPE inference with the frozen batch norms folded into the convolutions (``fuse_bn``), alone
and with channels-last: the network's outputs and the detections of the unfused model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from wholebody.models.dope.infer import DopeEstimator
from wholebody.nn.blocks import FrozenBatchNorm2d
from test_dope_channels_last import twins

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def image(fixtures_dir) -> np.ndarray:
    from wholebody.data.images import read_image

    return np.array(read_image(fixtures_dir / "coco_wholebody" / "000000197388.jpg"))


def _norms(model: nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if isinstance(m, (nn.BatchNorm2d, FrozenBatchNorm2d))]


@pytest.mark.parametrize("channels_last", [False, True])
def test_fused_network_gives_the_same_outputs(image, channels_last):
    reference, model = twins()
    model.set_channels_last(False)
    assert _norms(model.backbone)
    estimator = DopeEstimator(model, fuse_bn=True, channels_last=channels_last)
    assert _norms(model) == []  # every norm of the ResNet follows a convolution
    tensor = torch.from_numpy(image).permute(2, 0, 1).float() / 255
    with torch.no_grad():
        expected, got = reference.eval()([tensor])[0], estimator.model([tensor])[0]
    assert len(expected["boxes"]) > 10
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=1e-4, atol=1e-4, msg=key)


def test_fused_estimator_finds_the_same_parts(image):
    reference, model = twins()
    model.set_channels_last(False)
    settings = {part: {"min_score": 0.0} for part in ("body", "hand", "face")}
    expected = DopeEstimator(reference, part_kwargs=settings).detect([image])[0]
    got = DopeEstimator(model, part_kwargs=settings, fuse_bn=True, channels_last=True).detect([image])[0]
    assert sum(map(len, expected.values())) > 0
    for part, detections in expected.items():
        assert len(got[part]) == len(detections)
        for a, b in zip(got[part], detections):
            assert a.score == pytest.approx(b.score, abs=1e-5)
            np.testing.assert_allclose(a.pose2d, b.pose2d, atol=1e-3)
            np.testing.assert_allclose(a.pose3d, b.pose3d, atol=1e-4)
