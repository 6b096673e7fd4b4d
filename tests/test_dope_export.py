"""ONNX export of DOPE's two graphs and their parity with PyTorch (dynamic image size and box count)."""

import pytest
import torch

from wholebody.models.dope.network import dope_tiny
from wholebody.models.dope.export import export_dope_onnx, onnx_parity

pytest.importorskip("onnxruntime")
torch.set_num_threads(1)


def test_export_and_parity(tmp_path):
    torch.manual_seed(0)
    model = dope_tiny()
    model.set_anchor_poses("body", torch.rand(4, 23, 5))
    rpn_path, heads_path = export_dope_onnx(model, tmp_path / "dope.onnx")
    assert rpn_path.name == "dope.rpn.onnx" and heads_path.is_file()
    # a size and a box count different from the export example
    assert onnx_parity(model, rpn_path, heads_path, size=(224, 320), num_boxes=11) < 1e-4
    assert onnx_parity(model, rpn_path, heads_path, size=(96, 96), num_boxes=1, seed=3) < 1e-4
