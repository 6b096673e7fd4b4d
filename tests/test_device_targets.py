"""Targets built on the training device from the worker's small labels equal the CPU targets the
workers used to ship (frozen in ``topdown_targets_reference``), on the real fixture samples with
augmentation, for both architectures; the training step's loss is today's; what crosses the
worker boundary is the uint8 crop and a few KB; building the targets never waits on the device."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from wholebody.models.registry import build_model
from wholebody.models.zoomnet.hrnet133 import HRNet133Config
from wholebody.models.zoomnet.network import ZoomNetConfig
from wholebody.models.zoomnet.transforms import AugmentConfig
from wholebody.train.host_syncs import count_host_syncs
from wholebody.train.zoomnet.dataset import TopDownDataset, collate, load_training_set
from wholebody.train.zoomnet.losses import LOSSES
from wholebody.train.zoomnet.targets import build_targets, step_inputs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from topdown_targets_reference import reference_collate, reference_sample  # noqa: E402

torch.set_num_threads(1)

FULL_CONFIGS = {"zoomnet": ZoomNetConfig(), "hrnet133": HRNet133Config()}  # 384x288, as trained


@pytest.fixture(scope="module")
def training_set(fixtures_dir):
    folder = fixtures_dir / "coco_wholebody"
    return load_training_set(folder / "test_coco_wholebody.json", folder)


def both_batches(dataset: TopDownDataset) -> tuple[dict, dict]:
    """The new batch (uint8 crops + labels) and the old one (float crops + CPU targets), same samples."""
    indices = range(len(dataset))
    return collate([dataset[i] for i in indices]), reference_collate([reference_sample(dataset, i) for i in indices])


@pytest.mark.parametrize("architecture", ["zoomnet", "hrnet133"])
def test_device_targets_equal_the_cpu_targets(training_set, architecture):
    config = FULL_CONFIGS[architecture]
    dataset = TopDownDataset(training_set, architecture, config, AugmentConfig(), seed=5)
    for epoch in (0, 1):  # two draws of flips, rotations, half-body crops and RoI jitter
        dataset.set_epoch(epoch)
        new, old = both_batches(dataset)
        targets = build_targets(architecture, new["labels"], config)
        assert set(targets) == set(old["targets"])
        for key, expected in old["targets"].items():
            assert targets[key].shape == expected.shape and targets[key].dtype == expected.dtype, key
            assert torch.allclose(targets[key], expected, rtol=0, atol=1e-6), key
        weights = [k for k in targets if k.endswith("_weight")]
        assert all(torch.equal(targets[k], old["targets"][k]) for k in weights)
        assert sum(float(targets[k].sum()) for k in weights) > 100  # real points, not all masked out


@pytest.mark.parametrize("architecture", ["zoomnet", "hrnet133"])
def test_the_crop_is_todays_crop_rounded_to_uint8(training_set, architecture):
    dataset = TopDownDataset(training_set, architecture, FULL_CONFIGS[architecture], AugmentConfig(), seed=5)
    new, old = both_batches(dataset)
    assert new["images"].dtype == torch.uint8
    assert (new["images"].float() - old["images"]).abs().max() <= 0.52  # rounding, + 0.02 for float32 grids
    rounded = old["images"].round().clamp(0, 255).to(torch.uint8)
    assert (new["images"] != rounded).float().mean() < 1e-3  # one level apart only where a value sits on .5


@pytest.mark.parametrize("architecture", ["zoomnet", "hrnet133"])
def test_training_steps_lose_what_they_lost_with_cpu_targets(training_set, architecture):
    """Two Adam steps (tiny model) from the same weights: with the device targets and the uint8
    crop, with the CPU targets on that crop (identical to 1e-5 relative), and today's pipeline
    (float crop + CPU targets: within 1e-5 absolute, the crop's rounding being the only change)."""
    losses = {}
    for variant in ("device", "cpu_targets", "today"):
        torch.manual_seed(0)
        model = build_model(architecture, tiny=True, input_size=(128, 96)).train()
        dataset = TopDownDataset(training_set, architecture, model.config, AugmentConfig(), seed=2)
        new, old = both_batches(dataset)
        images, targets = step_inputs(new, architecture, model.config, "cpu")
        if variant != "device":
            targets = old["targets"]
        if variant == "today":
            images = old["images"]
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        losses[variant] = []
        for _ in range(2):
            outputs = model(images, rois=targets["rois"]) if architecture == "zoomnet" else model(images)
            loss = LOSSES[architecture](outputs, targets)["total"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses[variant].append(float(loss.detach()))
    assert losses["device"] == pytest.approx(losses["cpu_targets"], rel=1e-5, abs=0)
    assert losses["device"] == pytest.approx(losses["today"], rel=0, abs=1e-5)


@pytest.mark.parametrize("architecture", ["zoomnet", "hrnet133"])
def test_a_sample_that_crosses_the_worker_boundary_is_small(training_set, architecture):
    config = FULL_CONFIGS[architecture]
    dataset = TopDownDataset(training_set, architecture, config, AugmentConfig(), seed=5)
    sample, before = dataset[0], reference_sample(dataset, 0)
    crop = sample["image"].nbytes
    labels = sum(v.nbytes for v in sample["labels"].values())
    old = before["image"].nbytes + sum(v.nbytes for v in before["targets"].values())
    assert crop == 3 * 384 * 288 and labels < 4096
    assert old > 10 * (crop + labels)  # float crop (1.3 MB) + heatmaps (HRNet-133: 3.7 MB) before


@pytest.mark.parametrize("architecture", ["zoomnet", "hrnet133"])
def test_building_the_targets_never_waits_on_the_device(training_set, architecture):
    config = FULL_CONFIGS[architecture]
    dataset = TopDownDataset(training_set, architecture, config, AugmentConfig(), seed=5)
    labels = collate([dataset[i] for i in range(4)])["labels"]
    syncs, by_name = count_host_syncs(lambda: build_targets(architecture, labels, config))
    assert syncs == 0, by_name
