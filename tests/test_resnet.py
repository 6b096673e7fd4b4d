"""ResNet: stage shapes/strides, layer3/layer4 split, frozen batch norm, published size."""

from __future__ import annotations

import torch

from wholebody.nn.blocks import FrozenBatchNorm2d
from wholebody.nn.resnet import resnet50, resnet_tiny

torch.set_num_threads(1)


def test_stage_shapes_and_layer3_layer4_split():
    net = resnet_tiny(width=4).eval()
    images = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        feats = net.forward_features(images)
        c4 = net.forward_to_layer3(images)
        full = net(images)
    for name, x in feats.items():
        assert x.shape == (2, net.out_channels[name], 64 // net.strides[name], 96 // net.strides[name])
    assert torch.equal(c4, feats["layer3"])
    assert torch.allclose(net.layer4(c4), full)


def test_frozen_batch_norm_has_no_parameters_and_ignores_train_mode():
    net = resnet_tiny(frozen_bn=True, width=4)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    frozen = [m for m in net.modules() if isinstance(m, FrozenBatchNorm2d)]
    assert frozen and all(not list(m.parameters()) for m in frozen)
    images = torch.randn(2, 3, 32, 32)
    net.train()
    first = net(images)
    second = net(images)  # trainable BN would update running stats in train mode; frozen does not
    assert torch.equal(first, second)


def test_frozen_norm_loads_a_trainable_checkpoint_and_matches_eval_mode():
    trainable = resnet_tiny(width=4)
    with torch.no_grad():  # non-trivial statistics
        for m in trainable.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
    frozen = resnet_tiny(frozen_bn=True, width=4)
    frozen.load_state_dict(trainable.state_dict())
    images = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(frozen(images), trainable.eval()(images), atol=1e-5)


def test_trainable_layers_freezes_the_early_stages():
    net = resnet_tiny(width=4)
    net._freeze(2)  # only layer3 and layer4 train
    trainable = {name.split(".")[0] for name, p in net.named_parameters() if p.requires_grad}
    assert trainable == {"layer3", "layer4"}


def test_resnet50_has_the_published_size():
    # torchvision resnet50: 25,557,032 parameters including the 2048x1000 classifier (2,049,000).
    assert sum(p.numel() for p in resnet50().parameters()) == 25_557_032 - 2_049_000
    assert resnet50().out_channels == {"layer1": 256, "layer2": 512, "layer3": 1024, "layer4": 2048}
