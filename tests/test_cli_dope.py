"""The CLI path of DOPE: `wholebody train dope`, `predict --model`, `export --check` on tiny fixtures."""


import pytest

from wholebody.cli.main import main


@pytest.fixture(scope="module")
def trained(fixtures_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("dope_run")
    status = main(["train", "dope", "--tiny", "--source", f"300w={fixtures_dir / '300w' / 'test_300w.json'}",
                   "--teacher", "none", "--out", str(out), "--batch-size", "2", "--lr", "1e-3", "--warmup-steps", "1",
                   "--rois-per-image", "32", "--min-size", "96", "--max-steps", "1", "--threads", "1"])
    assert status == 0
    return out / "last.pt"


def test_train_requires_sources(tmp_path, capsys):
    assert main(["train", "dope", "--tiny", "--out", str(tmp_path)]) == 2
    assert "--source" in capsys.readouterr().err
    assert main(["train", "zoomnet", "--out", str(tmp_path)]) == 2  # --data / --images still required there


def test_predict_with_a_dope_checkpoint(trained, fixtures_dir, tmp_path):
    status = main(["predict", str(fixtures_dir / "300w" / "indoor_020.png"), "--model", str(trained),
                   "--out", str(tmp_path), "--no-overlay", "--threads", "1"])
    assert status == 0
    written = list(tmp_path.rglob("*.json"))
    assert written, "predict wrote no results file"


def test_export_with_parity_check(trained, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    assert main(["export", "--model", str(trained), "--onnx", str(tmp_path / "dope.onnx"), "--check"]) == 0
    assert (tmp_path / "dope.rpn.onnx").is_file() and (tmp_path / "dope.heads.onnx").is_file()
    assert "max abs difference" in capsys.readouterr().out
