"""Local model-file resolution (wholebody.experts.runtime.models): never downloads, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from wholebody.experts.runtime import models


def test_directory_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv(models.ENV_VAR, raising=False)
    assert models.models_dir() == Path.home() / ".cache" / "wholebody" / "models"
    monkeypatch.setenv(models.ENV_VAR, str(tmp_path / "env"))
    assert models.models_dir() == tmp_path / "env"
    assert models.models_dir(tmp_path / "arg") == tmp_path / "arg"


def test_missing_file_names_the_file_and_the_command(monkeypatch, tmp_path):
    monkeypatch.setenv(models.ENV_VAR, str(tmp_path))
    with pytest.raises(models.ModelNotPreparedError) as err:
        models.model_file("movenet-multipose")
    message = str(err.value)
    assert str(tmp_path / "movenet-multipose.json") in message
    assert "`wholebody models prepare`" in message  # the env var already points there: no --dir
    other = tmp_path / "other"
    with pytest.raises(models.ModelNotPreparedError, match="wholebody models prepare --dir .*other"):
        models.model_file("centernet", other)


def test_damaged_file_is_caught_by_verify_and_status(tmp_path):
    spec = models.MODELS["centernet"]
    for name in spec.files:
        (tmp_path / name).write_bytes(b"not the model")
    assert models.model_file("centernet", tmp_path) == tmp_path / "centernet.json"  # existence only
    with pytest.raises(models.ModelNotPreparedError, match="wrong sha256"):
        models.model_file("centernet", tmp_path, verify=True)
    report = models.status(tmp_path)
    assert report["centernet"].startswith("bad sha256")
    assert report["movenet-multipose"].startswith("missing")


def test_registry_is_consistent():
    with pytest.raises(KeyError, match="unknown model"):
        models.model_file("yolo")
    for spec in models.MODELS.values():
        assert spec.graph_file.endswith(".json") and spec.licence and spec.origin
        assert all(len(digest) == 64 for digest in spec.files.values())
    assert models.onnx_file("centernet", 512, 512, "/m") == Path("/m/centernet-512x512.onnx")
