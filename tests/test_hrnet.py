"""HRNet builders: branch shapes/strides, stem-less use, parameter counts of the paper variants."""

from __future__ import annotations

import pytest
import torch

from wholebody.nn.hrnet import concat_branches, hrnet_tiny, hrnet_w32, hrnetv2_w18

torch.set_num_threads(1)


def num_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_tiny_returns_four_branches_at_doubling_strides():
    net = hrnet_tiny(width=4).eval()
    assert net.strides == [4, 8, 16, 32]
    assert net.out_channels == [4, 8, 16, 32]
    with torch.no_grad():
        branches = net(torch.randn(2, 3, 64, 96))
    assert [tuple(b.shape) for b in branches] == [(2, c, 64 // s, 96 // s) for c, s in zip(net.out_channels, net.strides)]


def test_stemless_network_keeps_input_resolution_on_first_branch():
    net = hrnet_tiny(in_channels=5, stem=False, width=4, final_multiscale=False).eval()
    assert net.strides == [1] and net.out_channels == [4]
    with torch.no_grad():
        (out,) = net(torch.randn(1, 5, 16, 12))
    assert out.shape == (1, 4, 16, 12)


def test_concat_branches_upsamples_to_first_branch():
    net = hrnet_tiny(width=4).eval()
    with torch.no_grad():
        feats = concat_branches(net(torch.randn(1, 3, 64, 64)))
    assert feats.shape == (1, sum(net.out_channels), 16, 16)


def test_gradients_reach_every_parameter():
    net = hrnet_tiny(width=4)
    loss = sum(b.square().mean() for b in net(torch.randn(2, 3, 64, 64)))
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_paper_variants_have_published_sizes():
    # Published: pose HRNet-W32 28.5 M parameters with its 17-channel 1x1 head (32*17+17 = 561),
    # HRNetV2-W18 backbone without classifier ~9.6 M (mmpose hand model 9.64 M with its 270-ch head).
    w32 = hrnet_w32()
    assert w32.out_channels == [32]
    assert num_params(w32) + 561 == pytest.approx(28.5e6, rel=0.01)
    w18 = hrnetv2_w18()
    assert w18.out_channels == [18, 36, 72, 144]
    head = 270 * 270 + 2 * 270 + 270 * 21 + 21  # 1x1 270->270 + BN + 1x1 -> 21
    assert num_params(w18) + head == pytest.approx(9.64e6, rel=0.02)
