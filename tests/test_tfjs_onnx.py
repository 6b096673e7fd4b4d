"""ONNX export of TF.js graphs and the onnxruntime runner (wholebody.experts.runtime.tfjs_onnx)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tfjs_tiny import tiny_reference, write_tiny_model

from wholebody.experts.runtime.tfjs_graph import GraphModel
from wholebody.experts.runtime.tfjs_onnx import OnnxRunner, export_onnx, onnxruntime_available

pytestmark = pytest.mark.skipif(not onnxruntime_available(), reason="onnxruntime is not installed (extra 'onnx')")


def test_export_runs_in_onnxruntime_with_the_same_outputs(tmp_path):
    graph = GraphModel.load(write_tiny_model(tmp_path))
    x = torch.from_numpy(np.random.default_rng(2).normal(size=(1, 6, 7, 2)).astype(np.float32))
    path = export_onnx(graph, "x", ["mean", "scaled"], x, tmp_path / "tiny.onnx")
    assert path.is_file() and not list(tmp_path.glob(".*partial"))
    mean, scaled = OnnxRunner(path, num_threads=1).run(x.numpy())
    want_mean, want_scaled = tiny_reference(x.numpy())
    np.testing.assert_allclose(mean, want_mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(scaled, want_scaled, rtol=1e-4, atol=1e-5)


def test_dynamic_batch_export(tmp_path):
    graph = GraphModel.load(write_tiny_model(tmp_path))
    x = torch.zeros(1, 6, 7, 2)
    path = export_onnx(graph, "x", ["conv"], x, tmp_path / "conv.onnx", dynamic_batch=True)
    batch = np.random.default_rng(3).normal(size=(3, 6, 7, 2)).astype(np.float32)
    (conv,) = OnnxRunner(path).run(batch)
    with torch.inference_mode():
        want = graph.run({"x": torch.from_numpy(batch)}, ["conv"])[0].numpy()
    np.testing.assert_allclose(conv, want, rtol=1e-4, atol=1e-5)
