"""The flip test in one batched pass (``models.zoomnet.flip_test``): the same heatmaps as the two
passes it replaced (``flip_test_reference``), with the network run once instead of twice and fewer
operators, on person crops of the COCO-WholeBody fixture photos."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from flip_test_reference import predict_heatmaps_two_passes
from op_counter import OpCounter
from wholebody.data.images import read_image
from wholebody.models.registry import build_model
from wholebody.models.zoomnet.flip_test import HeatmapPredictor
from wholebody.models.zoomnet.topdown import crop_people
from wholebody.nn.blocks import FrozenBatchNorm2d

torch.set_num_threads(1)
SIZE = (128, 96)


def random_weights(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial batch-norm statistics, and heatmap convs (initialised near 0) scaled up so that the
    heatmaps are of order 1: a 1e-5 tolerance must mean something."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.BatchNorm2d, FrozenBatchNorm2d)):
                n = module.running_mean.shape[0]
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            elif isinstance(module, nn.Conv2d) and module.weight.std() < 0.01:
                module.weight.normal_(0.0, 0.05, generator=generator)
    return model.eval()


def person_crops(ground_truth, coco_dir, count: int = 3) -> torch.Tensor:
    """Crops (count, 3, *SIZE) of the people of the fixture photo with the most annotated people."""
    by_image: dict[int, list] = {}
    for ann in ground_truth["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann["bbox"])
    image_id, boxes = max(by_image.items(), key=lambda item: len(item[1]))
    name = next(im["file_name"] for im in ground_truth["images"] if im["id"] == image_id)
    crops, _ = crop_people(np.asarray(read_image(coco_dir / name)), np.array(boxes[:count]), SIZE)
    return crops


@pytest.mark.parametrize("architecture", ["zoomnet", "hrnet133"])
def test_one_pass_flip_test_equals_the_two_passes(architecture, ground_truth, coco_dir):
    torch.manual_seed(0)
    model = random_weights(build_model(architecture, tiny=True, input_size=SIZE))
    crops = person_crops(ground_truth, coco_dir)
    assert len(crops) >= 2
    with torch.no_grad():
        expected = predict_heatmaps_two_passes(model, crops)
        got = HeatmapPredictor(model, flip_test=True)(crops)
    assert set(got) == set(expected)
    for name, value in expected.items():
        if name not in ("rois", "box_scores"):
            assert value.abs().amax() > 0.1, f"{name}: heatmaps too flat for the tolerance to mean anything"
        torch.testing.assert_close(got[name], value, rtol=1e-5, atol=1e-5, msg=lambda m: f"{name}: {m}")


@pytest.mark.parametrize("architecture", ["zoomnet", "hrnet133"])
def test_one_pass_runs_every_layer_once_and_fewer_operators(architecture, ground_truth, coco_dir):
    """Launch-bound batch-1 inference: the flip test must not run the network twice."""
    model = build_model(architecture, tiny=True, input_size=SIZE).eval()
    crops = person_crops(ground_truth, coco_dir, count=1)
    calls = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            module.register_forward_hook(lambda *_: calls.append(1))
    convs = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    counts = []
    for predict in (lambda: predict_heatmaps_two_passes(model, crops), lambda: HeatmapPredictor(model)(crops)):
        calls.clear()
        with torch.no_grad(), OpCounter() as counter:
            predict()
        counts.append((len(calls), counter.count))
    (two_pass_convs, two_pass_ops), (one_pass_convs, one_pass_ops) = counts
    # ZoomNet runs its hand head once per pass on both hands: convs counts module calls, not layers.
    assert two_pass_convs == 2 * one_pass_convs and one_pass_convs <= 2 * convs
    assert one_pass_ops < 0.6 * two_pass_ops, counts


def test_without_flip_test_it_is_the_model_forward(ground_truth, coco_dir):
    model = random_weights(build_model("zoomnet", tiny=True, input_size=SIZE))
    crops = person_crops(ground_truth, coco_dir, count=2)
    with torch.no_grad():
        expected, got = model(crops), HeatmapPredictor(model, flip_test=False)(crops)
    for name, value in expected.items():
        torch.testing.assert_close(got[name], value, rtol=0, atol=0)
