"""DOPE input transform: resize rule, normalisation, padding, mapping back to original pixels."""

import pytest
import torch

from wholebody.models.dope.transform import IMAGENET_MEAN, IMAGENET_STD, Geometry, ImageTransform, resized_size


def test_resized_size_rule():
    assert resized_size(400, 600, 800, 1333) == (800, 1200)
    assert resized_size(400, 1000, 800, 1333) == (533, 1333)  # capped by the longer side
    assert resized_size(1000, 1000, 400, 666) == (400, 400)


def test_batch_normalisation_and_padding():
    transform = ImageTransform(min_size=64, max_size=100)
    image = torch.ones(3, 32, 40) * torch.tensor(IMAGENET_MEAN)[:, None, None]
    other = torch.zeros(3, 20, 20)
    batch, geometry = transform([image, other])
    assert batch.shape == (2, 3, 64, 96)  # (64, 80) and (64, 64), padded to multiples of 32
    assert geometry[0].resized_size == (64, 80) and geometry[1].resized_size == (64, 64)
    assert torch.allclose(batch[0, :, :64, :80], torch.zeros(()), atol=1e-6)
    expected = -torch.tensor(IMAGENET_MEAN) / torch.tensor(IMAGENET_STD)
    assert torch.allclose(batch[1, :, 10, 10], expected, atol=1e-6)
    assert torch.all(batch[0, :, :, 80:] == 0) and torch.all(batch[1, :, :, 64:] == 0)


def test_geometry_round_trip():
    g = Geometry(original_size=(100, 200), resized_size=(50, 400))
    assert g.scale == (2.0, 0.5)
    box = torch.tensor([[10.0, 10.0, 20.0, 30.0]])
    assert torch.allclose(g.to_original(box), torch.tensor([[5.0, 20.0, 10.0, 60.0]]))
    points = torch.rand(3, 4, 2)
    assert torch.allclose(g.to_resized(g.to_original(points)), points)


def test_bad_input():
    with pytest.raises(ValueError, match="RGB"):
        ImageTransform()([torch.zeros(1, 10, 10)])
    with pytest.raises(ValueError):
        ImageTransform(min_size=100, max_size=50)
