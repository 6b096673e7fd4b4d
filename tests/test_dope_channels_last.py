"""DOPE in channels-last memory format: the outputs and the training losses of the default
format, convolutions really NHWC, and `wholebody train dope --channels-last` trains."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from wholebody.models.dope.network import DOPE, dope_tiny
from wholebody.train.dope.pseudo import PseudoLabels
from wholebody.train.dope.step import ImageLabels, compute_losses
from test_dope_step import body, face
from test_speed_options import randomise_norms

torch.set_num_threads(1)


def twins() -> tuple[DOPE, DOPE]:
    """Two copies of one tiny DOPE (non-trivial norms, anchors spread over the box), the second NHWC."""
    torch.manual_seed(0)
    model = dope_tiny(min_size=128, max_size=192)
    randomise_norms(model)
    for part in ("body", "hand", "face"):
        k, j = model.num_anchor_poses[part], model.layout.num_joints(part)
        model.set_anchor_poses(part, torch.rand(k, j, 5) * torch.tensor([1, 1, 0.3, 0.3, 0.3]))
    twin = dope_tiny(min_size=128, max_size=192)
    twin.load_state_dict(model.state_dict())
    return model, twin.set_channels_last()


def _conv_weights(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in model.modules() if isinstance(m, nn.Conv2d)]


def test_convolutions_are_nhwc_and_the_flag_undoes():
    _, model = twins()
    assert all(w.is_contiguous(memory_format=torch.channels_last) for w in _conv_weights(model))
    features = model.eval().feature_map(torch.rand(1, 3, 64, 96))
    assert features.is_contiguous(memory_format=torch.channels_last)
    model.set_channels_last(False)
    assert all(w.is_contiguous() for w in _conv_weights(model))


def test_same_outputs_as_the_default_format_on_a_fixture_image(fixtures_dir):
    from wholebody.data.images import read_image

    default, nhwc = (m.eval() for m in twins())
    image = torch.from_numpy(np.array(read_image(fixtures_dir / "coco_wholebody" / "000000196141.jpg")))
    image = image.permute(2, 0, 1).float() / 255
    expected, got = default([image])[0], nhwc([image])[0]
    assert len(expected["boxes"]) > 10
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=1e-4, atol=1e-4, msg=key)


def test_a_training_step_gives_the_same_losses_and_trains():
    default, nhwc = (m.train() for m in twins())
    images = [torch.rand(3, 110, 150), torch.rand(3, 96, 128)]
    labels = [ImageLabels(PseudoLabels([body(20), body(80), face(30, 0.9)], [face(30, 0.9)]), frozenset({"body"})),
              ImageLabels(PseudoLabels([body(40)], []), frozenset({"body"}))]
    losses = {}
    for name, model in (("default", default), ("nhwc", nhwc)):
        torch.manual_seed(1)  # the RoI sampling draws at random
        losses[name] = compute_losses(model, images, labels)
    for key, value in losses["default"].items():
        torch.testing.assert_close(losses["nhwc"][key], value, rtol=1e-4, atol=1e-5, msg=key)
    params = [p for p in nhwc.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=1e-3)
    before = [p.detach().clone() for p in params]
    losses["nhwc"]["total"].backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in params)
    optimizer.step()
    assert any(not torch.equal(a, p) for a, p in zip(before, params))
    trainable = [w for w in _conv_weights(nhwc) if w.requires_grad]
    assert trainable and all(w.is_contiguous(memory_format=torch.channels_last) for w in trainable)


def test_train_dope_cli_flag_trains_in_channels_last(fixtures_dir, tmp_path, monkeypatch):
    from wholebody.cli.main import main

    calls = []
    original = DOPE.set_channels_last
    monkeypatch.setattr(DOPE, "set_channels_last", lambda self, enabled=True: calls.append(enabled) or original(self, enabled))
    status = main(["train", "dope", "--tiny", "--source", f"300w={fixtures_dir / '300w' / 'test_300w.json'}",
                   "--teacher", "none", "--out", str(tmp_path), "--batch-size", "2", "--lr", "1e-3",
                   "--warmup-steps", "1", "--rois-per-image", "32", "--min-size", "96", "--max-steps", "1",
                   "--threads", "1", "--channels-last"])
    assert status == 0 and calls == [True]
    from wholebody.models.dope.network import load_dope

    loaded = load_dope(tmp_path / "last.pt")  # an NHWC checkpoint loads into a default-format model
    assert all(w.is_contiguous() for w in _conv_weights(loaded))
