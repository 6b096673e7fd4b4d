"""ONNX export: ONNX Runtime matches PyTorch for ZoomNet and HRNet-133, with any number of crops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wholebody.cli.main import main
from wholebody.models.zoomnet.export import OUTPUT_NAMES, export_onnx
from wholebody.models.registry import build_model
from wholebody.models.checkpoints import save_checkpoint

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (extra 'onnx')")
pytest.importorskip("onnx", reason="onnx is not installed (extra 'onnx')")
torch.set_num_threads(1)


@pytest.mark.parametrize("architecture", ["zoomnet", "hrnet133"])
def test_onnx_runtime_matches_torch_for_any_batch(tmp_path, architecture):
    torch.manual_seed(0)
    model = build_model(architecture, tiny=True, input_size=(96, 72)).eval()
    with torch.no_grad():  # non-trivial BN statistics so the check is not about zeros
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_var.uniform_(0.5, 2.0)
                m.running_mean.uniform_(-0.2, 0.2)
    path = tmp_path / "model.onnx"
    names = export_onnx(model, path)
    assert names == list(OUTPUT_NAMES[architecture])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        images = torch.rand(batch, 3, 96, 72, generator=torch.Generator().manual_seed(batch)) * 255
        got = session.run(None, {"images": images.numpy()})
        with torch.no_grad():
            want = model(images)
        for value, name in zip(got, names):
            assert value.shape == tuple(want[name].shape)
            np.testing.assert_allclose(value, want[name].numpy(), atol=2e-4, rtol=1e-3, err_msg=name)


def test_export_cli_with_parity_check(tmp_path, capsys):
    model = build_model("zoomnet", tiny=True, input_size=(64, 48))
    ckpt = tmp_path / "model.pt"
    save_checkpoint(ckpt, {"architecture": "zoomnet", "config": model.config.to_dict(), "model": model.state_dict()})
    status = main(["export", "--model", str(ckpt), "--onnx", str(tmp_path / "z.onnx"), "--check"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert (tmp_path / "z.onnx").is_file() and "max abs difference" in out
    assert main(["export", "--model", str(tmp_path / "missing.pt"), "--onnx", str(tmp_path / "x.onnx")]) == 1
