"""The vectorised DOPE training step: same losses as the per-image implementation, few host syncs.

``dope_step_reference`` is the step as it was before vectorising.  With sampling sizes large
enough that every RoI and anchor is taken, neither step draws anything at random, so both must
give the same losses on the real fixtures; the random draws themselves are checked on counts
and frequencies.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import dope_step_reference as reference
from wholebody.data.adapters.sample import PartInstance
from wholebody.data.adapters.sources import load_source, read_sample_image
from wholebody.models.dope.network import dope_tiny
from wholebody.models.dope.layout import get_layout
from wholebody.nn.anchors import sample_balanced_mask
from wholebody.train.dope.pseudo import PseudoLabels, combine
from wholebody.train.dope.step import ImageLabels, StepConfig, compute_losses
from wholebody.train.dope.train import fit_model_anchor_poses
from wholebody.train.host_syncs import count_host_syncs

torch.set_num_threads(1)
TAKE_ALL = StepConfig(rois_per_image=10**6, positive_fraction=0.5)


@pytest.fixture(scope="module")
def fixture_batch(fixtures_dir):
    """Real images and labels: COCO-WholeBody with its hands/faces also given as expert labels
    (body-only labelling, so distillation runs), and an RHD hand image."""
    layout = get_layout("wholebody")
    samples = load_source(f"cocowb={fixtures_dir / 'coco_wholebody' / 'test_coco_wholebody.json'}", layout)
    samples += load_source(f"rhd={fixtures_dir / 'rhd' / 'test_rhd.json'}", layout)[:1]
    labels = []
    for sample in samples:
        pseudo = combine(sample, [], layout)
        if sample.labelled_parts == {"body", "hand", "face"}:
            experts = [dataclasses.replace(inst, score=0.7) for inst in pseudo.ground_truth]
            labels.append(ImageLabels(PseudoLabels(pseudo.ground_truth, experts), frozenset({"body"})))
        else:
            labels.append(ImageLabels(pseudo, sample.labelled_parts))
    images = [torch.from_numpy(np.array(read_sample_image(s))).permute(2, 0, 1).float() / 255 for s in samples]
    return images, labels


@pytest.fixture(scope="module")
def model(fixture_batch):
    torch.manual_seed(0)
    m = dope_tiny(min_size=160, max_size=224).train()
    m.rpn.settings.batch_size_per_image = 10**7  # every anchor sampled: no random draw
    fit_model_anchor_poses(m, fixture_batch[1])
    return m


def _losses_and_grad(step, model, images, labels):
    model.zero_grad()
    losses = step(model, images, labels, TAKE_ALL)
    losses["total"].backward()
    grad = model.predictors["face"].pose_pred.weight.grad.clone()
    return {k: v.item() for k, v in losses.items()}, grad


def test_same_losses_as_the_per_image_step_on_fixtures(model, fixture_batch):
    images, labels = fixture_batch
    new, new_grad = _losses_and_grad(compute_losses, model, images, labels)
    old, old_grad = _losses_and_grad(reference.compute_losses, model, images, labels)
    assert new.keys() == old.keys()
    for name in old:
        assert new[name] == pytest.approx(old[name], rel=1e-5, abs=1e-5), name
    # every kind of term is exercised, so the comparison means something
    for name in ("rpn_box", "body_reg", "hand_reg", "face_reg", "hand_distill_cls", "face_distill_reg"):
        assert old[name] > 0, name
    assert torch.allclose(new_grad, old_grad, rtol=1e-4, atol=1e-6)


def test_same_losses_image_by_image_and_without_experts(model, fixture_batch):
    images, labels = fixture_batch
    for image, label in [(images[0], labels[0]), (images[-1], labels[-1])]:
        new = compute_losses(model, [image], [label], TAKE_ALL)
        old = reference.compute_losses(model, [image], [label], TAKE_ALL)
        for name in old:
            assert new[name].item() == pytest.approx(old[name].item(), rel=1e-5, abs=1e-5), name


def _people(count: int) -> ImageLabels:
    rng = np.random.default_rng(count)
    instances = []
    for _ in range(count):
        x0, y0 = rng.uniform(0, 100), rng.uniform(0, 40)
        pose = np.stack([x0 + rng.uniform(0, 40, 23), y0 + rng.uniform(0, 80, 23)], 1)
        instances.append(PartInstance("body", pose, np.ones(23, bool), rng.normal(0, 0.2, (23, 3)), np.ones(23, bool),
                                      box=np.concatenate([pose.min(0) - 2, pose.max(0) + 2])))
    experts = [dataclasses.replace(inst, part="face", pose2d=np.repeat(inst.pose2d[:1], 68, 0) + rng.uniform(0, 9, (68, 2)),
                                   visible2d=np.ones(68, bool), pose3d=None, visible3d=None, score=0.8,
                                   box=np.concatenate([inst.pose2d[0], inst.pose2d[0] + 9])) for inst in instances]
    return ImageLabels(PseudoLabels(instances, experts), frozenset({"body"}))


@pytest.mark.parametrize("people", [1, 40])
def test_host_syncs_per_step_bounded(people):
    """At most a constant few host syncs per training step (forward + backward), whatever the crowd."""
    torch.manual_seed(0)
    model = dope_tiny(min_size=128, max_size=160).train()
    images, labels = [torch.rand(3, 128, 160), torch.rand(3, 120, 150)], [_people(people), _people(people + 1)]

    def step():
        compute_losses(model, images, labels, StepConfig(rois_per_image=64))["total"].backward()

    syncs, by_op = count_host_syncs(step)
    assert syncs <= 20, by_op
    # the bound is tight enough to catch a per-image / per-box loop: the old step has hundreds
    old_syncs, _ = count_host_syncs(lambda: reference.compute_losses(model, images, labels, StepConfig(rois_per_image=64)))
    assert old_syncs > 20


def test_balanced_sampling_counts_and_uniformity():
    labels = torch.tensor([1] * 5 + [0] * 40 + [-1] * 10 + [0] * 20).repeat(4000, 1)
    labels[1] = -1  # an image with nothing to sample
    positive, negative = sample_balanced_mask(labels, 16, 0.25, torch.Generator().manual_seed(0))
    assert not (positive & (labels != 1)).any() and not (negative & (labels != 0)).any()
    assert positive[0].sum() == 4 and negative[0].sum() == 12  # at most 25 % positives, then negatives
    assert positive[1].sum() == 0 and negative[1].sum() == 0
    few = sample_balanced_mask(torch.tensor([[1, 0, 0, -1]]), 16, 0.5)
    assert few[0].tolist() == [[True, False, False, False]] and few[1].tolist() == [[False, True, True, False]]
    # every candidate of a kind is equally likely: 4/5 of the positives, 12/60 of the negatives
    rate = (positive | negative)[2:].float().mean(0)
    assert torch.allclose(rate[:5], torch.full((5,), 0.8), atol=0.03)
    assert torch.allclose(rate[labels[0] == 0], torch.full((60,), 0.2), atol=0.03)
