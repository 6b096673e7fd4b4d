"""DOPE training step: every loss term, distillation only on parts the data set does not label."""

import numpy as np
import pytest
import torch

from wholebody.data.adapters.sample import PartInstance
from wholebody.models.dope.network import dope_tiny
from wholebody.train.dope.pseudo import PseudoLabels
from wholebody.train.dope.step import ImageLabels, StepConfig, anchor_training_data, compute_losses

torch.set_num_threads(1)


def body(x0, score=1.0):
    pose = np.stack([np.linspace(x0, x0 + 40, 23), np.linspace(10, 110, 23)], 1)
    pose3d = np.random.default_rng(1).normal(0, 0.2, (23, 3))
    return PartInstance("body", pose, np.ones(23, bool), pose3d, np.ones(23, bool),
                        box=np.array([x0 - 4, 0.0, x0 + 44, 120.0]), score=score)


def face(x0, score=1.0):
    pose = np.stack([np.linspace(x0, x0 + 20, 68), np.linspace(10, 35, 68)], 1)
    return PartInstance("face", pose, np.ones(68, bool), box=np.array([x0 - 2, 7.5, x0 + 22, 37.5]), score=score)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = dope_tiny(min_size=128, max_size=160).train()
    labels = [ImageLabels(PseudoLabels([body(20), body(80)], []), frozenset({"body"}))]
    for part in ("body", "hand", "face"):
        data = anchor_training_data(labels, part)
        if data:
            from wholebody.models.dope.anchor_poses import fit_anchor_poses

            m.set_anchor_poses(part, fit_anchor_poses(data["pose2d"], data["visible2d"], data["pose3d"], data["visible3d"], 4))
    return m


def test_all_terms_finite_and_total_is_their_sum(model):
    image = torch.rand(3, 128, 160)
    labels = ImageLabels(PseudoLabels([body(20), body(80), face(30, 0.9)], [face(30, 0.9)]), frozenset({"body"}))
    config = StepConfig(rois_per_image=64)
    losses = compute_losses(model, [image], [labels], config)
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses["body_reg"] > 0 and losses["face_reg"] > 0 and losses["face_distill_cls"] > 0
    assert losses["face_distill_reg"] > 0
    assert losses["body_distill_cls"] == 0 and losses["hand_reg"] == 0  # body is labelled; no hands at all
    parts = sum(losses[f"{p}_{t}"] for p in ("body", "hand", "face") for t in ("cls", "reg", "distill_cls", "distill_reg"))
    assert torch.isclose(losses["total"], losses["rpn_objectness"] + losses["rpn_box"] + parts)
    losses["total"].backward()
    assert model.predictors["face"].pose_pred.weight.grad.abs().sum() > 0
    model.zero_grad()


def test_image_without_any_label(model):
    losses = compute_losses(model, [torch.rand(3, 100, 100), torch.rand(3, 120, 90)],
                            [ImageLabels(PseudoLabels(), frozenset()), ImageLabels(PseudoLabels([body(10)], []), frozenset())],
                            StepConfig(rois_per_image=32))
    assert torch.isfinite(losses["total"]) and losses["body_cls"] > 0


def test_regression_target_is_zero_for_a_perfect_anchor():
    """A box whose pose equals its class's anchor pose is assigned that class and needs zero deltas."""
    anchors = np.random.default_rng(0).random((4, 23, 5))
    box = np.array([10.0, 10.0, 60.0, 110.0])
    pose = box[:2] + anchors[2, :, :2] * (box[2:] - box[:2])
    inst = PartInstance("body", pose, np.ones(23, bool), anchors[2, :, 2:].copy(), np.ones(23, bool), box=box)
    from wholebody.models.dope.heads import encode_poses
    from wholebody.models.dope.transform import Geometry
    from wholebody.train.dope.targets import part_targets

    t = part_targets([inst], "body", anchors, Geometry((128, 160), (128, 160)), 2)
    assert t.classes.item() == 2
    d2d, d3d = encode_poses(t.boxes, t.pose2d, t.pose3d, torch.as_tensor(anchors[t.classes], dtype=torch.float32))
    assert torch.allclose(d2d, torch.zeros_like(d2d), atol=1e-4) and torch.allclose(d3d, torch.zeros_like(d3d), atol=1e-5)
