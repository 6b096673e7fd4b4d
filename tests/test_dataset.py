"""Training samples from the real COCO-WholeBody fixture: person filter, target round trip back to
the labels, and bad records / images skipped with their path and record id."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch

from wholebody.models.registry import build_model
from wholebody.train.zoomnet.dataset import TopDownDataset, collate, load_training_set
from wholebody.train.zoomnet.targets import step_inputs
from wholebody.models.zoomnet.decode import heatmaps_to_keypoints
from wholebody.models.zoomnet.transforms import AugmentConfig, keypoints_to_original

torch.set_num_threads(1)


@pytest.fixture()
def cocowb(fixtures_dir):
    return fixtures_dir / "coco_wholebody"


def test_usable_people_follow_the_top_down_filter(cocowb):
    data = load_training_set(cocowb / "test_coco_wholebody.json", cocowb)
    assert len(data.gt) == 14 and len(data.rows) == 12  # two people have no labelled body point
    assert set(data.gt.ann_ids[data.rows]).isdisjoint({1202706, 508900})
    assert not data.skipped


@pytest.mark.parametrize("architecture", ["zoomnet", "hrnet133"])
def test_targets_decode_back_to_the_labels(cocowb, architecture):
    data = load_training_set(cocowb / "test_coco_wholebody.json", cocowb)
    model = build_model(architecture, tiny=True, input_size=(256, 192))
    dataset = TopDownDataset(data, architecture, model.config)
    batch = collate([dataset[i] for i in range(len(dataset))])
    assert batch["images"].shape == (12, 3, 256, 192) and batch["images"].dtype == torch.uint8 and not batch["skipped"]
    _, t = step_inputs(batch, architecture, model.config, "cpu")
    outputs = dict(t) if architecture == "hrnet133" else {k: t[k] for k in ("body", "face", "lefthand", "righthand", "rois")}
    crop = heatmaps_to_keypoints(outputs, architecture, 4, method="dark").numpy()
    weight_keys = ["wholebody_weight"] if architecture == "hrnet133" else \
        ["body_weight", "face_weight", "lefthand_weight", "righthand_weight"]
    weights = torch.cat([t[k] for k in weight_keys], dim=1).numpy() > 0
    errors = []
    for i, row in enumerate(batch["meta"]["row"]):
        original = keypoints_to_original(crop[i], batch["meta"]["matrix"][i].numpy())
        errors.append(np.linalg.norm(original[weights[i], :2] - data.gt.keypoints[row, weights[i], :2], axis=1))
    errors = np.concatenate(errors)
    # every labelled point of the 12 people (body, feet, faces, hands) is inside its crop and counted
    assert len(errors) == int((data.gt.keypoints[data.rows, :, 2] > 0).sum())
    assert np.median(errors) < 0.3 and np.percentile(errors, 95) < 1.0  # pixels of the original image


def test_augmented_samples_are_reproducible_per_epoch(cocowb):
    data = load_training_set(cocowb / "test_coco_wholebody.json", cocowb)
    model = build_model("zoomnet", tiny=True, input_size=(128, 96))
    a = TopDownDataset(data, "zoomnet", model.config, AugmentConfig(), seed=3)
    b = TopDownDataset(data, "zoomnet", model.config, AugmentConfig(), seed=3)
    assert torch.equal(a[2]["image"], b[2]["image"]) and torch.equal(a[2]["labels"]["rois"], b[2]["labels"]["rois"])
    b.set_epoch(1)
    assert not torch.equal(a[2]["meta"]["matrix"], b[2]["meta"]["matrix"])


def test_bad_records_and_images_are_skipped_and_named(cocowb, tmp_path, caplog):
    data = json.loads((cocowb / "test_coco_wholebody.json").read_text())
    data["annotations"][0]["face_kpts"] = data["annotations"][0]["face_kpts"][:-3]  # wrong block length
    data["annotations"][1]["bbox"] = ["a", 1, 2, 3]  # non-numeric
    bad_ids = [data["annotations"][0]["id"], data["annotations"][1]["id"]]
    for image in data["images"]:
        image["file_name"] = str(cocowb / image["file_name"])
    data["images"][1]["file_name"] = str(tmp_path / "missing.jpg")
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING):
        training = load_training_set(path, tmp_path)
    assert len(training.skipped) == 2
    for message, record in zip(training.skipped, bad_ids):
        assert str(path) in message and f"record {record}" in message
    assert "face_kpts" in training.skipped[0] and "bbox" in training.skipped[1]
    dataset = TopDownDataset(training, "hrnet133", build_model("hrnet133", tiny=True, input_size=(64, 48)).config)
    batch = collate([dataset[i] for i in range(len(dataset))])
    missing_rows = [r for r in training.rows if training.gt.image_ids[r] == data["images"][1]["id"]]
    assert len(batch["skipped"]) == len(missing_rows) > 0
    assert batch["size"] == len(dataset) - len(missing_rows)
    assert all("missing.jpg" in m and "record" in m for m in batch["skipped"])
    assert "skipping" in caplog.text
