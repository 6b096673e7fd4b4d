"""Small CLI items: models list shows every model with file, size, package and licence;
models prepare logs its steps; train --help names all three architectures; the default
predict output folder is git-ignored."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "wholebody", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_models_list_shows_prepared_and_bundled_models(tmp_path):
    pytest.importorskip("mediapipe", reason="mediapipe (whose wheel holds the bundled models) is not installed")
    from importlib.metadata import version

    from wholebody.experts.runtime import models, tflite

    done = _cli("models", "list", "--dir", str(tmp_path))  # empty folder: prepared models read 'missing'
    out = done.stdout
    for name, spec in models.MODELS.items():
        assert name in out and spec.licence in out
        for file_name in spec.files:
            assert f"{file_name} (missing)" in out
    assert f"mediapipe=={version('mediapipe')}" in out and tflite.MODEL_LICENCE in out
    for name, relative in tflite.MODEL_FILES.items():
        size = (tflite.mediapipe_modules_dir() / relative).stat().st_size / 1e6
        assert f"{name}" in out and f"{size:.1f} MB" in out and relative in out


def test_models_prepare_logs_its_steps(tmp_path, caplog, monkeypatch):
    from wholebody.cli import models as cli_models

    monkeypatch.setattr(cli_models.models, "status", lambda directory: {n: "ok" for n in cli_models.models.MODELS})
    with caplog.at_level(logging.INFO, logger="wholebody.cli.models"):
        cli_models.prepare(tmp_path, list(cli_models.models.MODELS), onnx=False)
    assert "step 1/1: model files: all present and intact" in caplog.text


def test_train_help_names_all_three_architectures():
    done = _cli("train", "--help")
    assert done.returncode == 0
    for name in ("zoomnet", "hrnet133", "dope", "DOPE", "ZoomNet", "HRNet-133"):
        assert name in done.stdout


def test_default_predict_output_folder_is_git_ignored():
    import argparse

    from wholebody.cli import predict

    parser = argparse.ArgumentParser()
    predict.add_arguments(parser)
    default = parser.get_default("out")
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".gitignore").read_text().splitlines()}
    assert default.rstrip("/") in ignored
