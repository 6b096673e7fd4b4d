"""TF.js graph loading and execution (wholebody.experts.runtime.tfjs_graph) on a tiny hand-made model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tfjs_tiny import tiny_nodes, tiny_reference, tiny_weights, write_tiny_model

from wholebody.experts.runtime.tfjs_graph import GraphModel, read_weights

rng = np.random.default_rng(1)


@pytest.fixture()
def tiny(tmp_path):
    return write_tiny_model(tmp_path)


def test_weights_are_read_across_shards_and_dequantised(tiny):
    spec = json.loads(tiny.read_text())
    weights = read_weights(tiny, spec["weightsManifest"])
    for name, want in tiny_weights().items():
        assert weights[name].dtype == want.dtype, name
        np.testing.assert_array_equal(weights[name], want, err_msg=name)
    assert weights["b"][3] == pytest.approx(255 * 0.01 - 1.0, abs=1e-6)  # uint8 affine: q * scale + min


@pytest.mark.parametrize("height,width", [(6, 7), (5, 5)])
def test_run_matches_the_op_definitions(tiny, height, width):
    graph = GraphModel.load(tiny)
    assert graph.input_names == ["x"] and graph.output_names == ["mean:0", "scaled:0"]
    x = rng.normal(size=(1, height, width, 2)).astype(np.float32)
    mean, scaled = graph.run({"x": torch.from_numpy(x)})
    want_mean, want_scaled = tiny_reference(x)
    np.testing.assert_allclose(mean.numpy(), want_mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(scaled.numpy(), want_scaled, rtol=1e-4, atol=1e-5)


def test_selected_outputs_and_output_index(tiny):
    graph = GraphModel.load(tiny)
    x = torch.from_numpy(rng.normal(size=(1, 6, 7, 2)).astype(np.float32))
    mean, second, conv = graph.run({"x": x}, ["mean", "unpack:1", "conv"])
    assert conv.shape == (1, 3, 4, 4)  # SAME, stride 2: ceil(6/2), ceil(7/2)
    np.testing.assert_array_equal(second.numpy(), mean[:, 1].numpy())
    assert graph(x)[1].shape == (1,)  # nn.Module forward: signature outputs


def test_constant_subgraphs_are_evaluated_once(tiny):
    graph = GraphModel.load(tiny)
    assert "six" not in graph.constants
    graph.run({"x": torch.zeros(1, 4, 4, 2)})
    assert float(graph.constants["six"]) == 6.0
    assert "conv" not in graph.constants  # depends on the placeholder


def test_op_inventory(tiny):
    ops = GraphModel.load(tiny).ops()
    assert ops["Const"] == 6 and ops["_FusedConv2D"] == 1 and ops["Unpack"] == 1


def test_unknown_op_names_the_op_and_node(tmp_path):
    nodes = tiny_nodes() + [{"name": "mystery_node", "op": "FancyOp", "input": ["x"]}]
    path = write_tiny_model(tmp_path, nodes)
    with pytest.raises(NotImplementedError, match=r"tiny\.json: node 'mystery_node' uses op 'FancyOp'"):
        GraphModel.load(path)


def test_missing_and_short_shards_are_reported(tiny):
    (tiny.parent / "tiny.2.bin").write_bytes(b"\0" * 8)
    with pytest.raises(ValueError, match="end before weight"):
        GraphModel.load(tiny)
    (tiny.parent / "tiny.2.bin").unlink()
    with pytest.raises(FileNotFoundError, match=r"tiny\.2\.bin"):
        GraphModel.load(tiny)


def test_bad_files_and_feeds_are_reported(tmp_path, tiny):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        GraphModel.load(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json: not a TF.js graph model"):
        GraphModel.load(broken)
    graph = GraphModel.load(tiny)
    with pytest.raises(KeyError, match="no value fed for input 'x'"):
        graph.run({})
    with pytest.raises(KeyError, match="no node 'nowhere'"):
        graph.run({"x": torch.zeros(1, 4, 4, 2)}, ["nowhere"])
