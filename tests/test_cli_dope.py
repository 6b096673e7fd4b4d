"""The CLI path of DOPE: `wholebody train dope`, `predict --model`, `export --check` on tiny fixtures."""

import json

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


@pytest.mark.parametrize("post", ["nms", "ppi"])
def test_predict_with_a_dope_checkpoint(trained, fixtures_dir, tmp_path, post):
    status = main(["predict", str(fixtures_dir / "300w" / "indoor_020.png"), "--model", str(trained),
                   "--out", str(tmp_path), "--no-overlay", "--threads", "1", "--dope-post", post])
    assert status == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert isinstance(results, list) and results, "a trained DOPE checkpoint found nobody"
    assert all(len(r["keypoints"]) == 17 * 3 and len(r["face_kpts"]) == 68 * 3 for r in results)


def test_export_with_parity_check(trained, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    assert main(["export", "--model", str(trained), "--onnx", str(tmp_path / "dope.onnx"), "--check"]) == 0
    assert (tmp_path / "dope.rpn.onnx").is_file() and (tmp_path / "dope.heads.onnx").is_file()
    assert "max abs difference" in capsys.readouterr().out


def test_optimisation_flags_default_per_architecture():
    import argparse

    from wholebody.cli.train import add_arguments, fill_defaults
    from wholebody.train.dope.train import DopeTrainConfig

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    dope = fill_defaults(parser.parse_args(["dope", "--out", "x"]))
    assert (dope.batch_size, dope.lr, dope.epochs) == (DopeTrainConfig.batch_size, DopeTrainConfig.lr, DopeTrainConfig.epochs)
    zoomnet = fill_defaults(parser.parse_args(["zoomnet", "--out", "x"]))
    assert (zoomnet.batch_size, zoomnet.lr, zoomnet.epochs, zoomnet.warmup_steps) == (64, 5e-4, 210, 500)
    given = fill_defaults(parser.parse_args(["dope", "--out", "x", "--batch-size", "8", "--lr", "2e-4"]))
    assert (given.batch_size, given.lr) == (8, 2e-4)
