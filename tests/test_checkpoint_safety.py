"""Checkpoints never run code and always fail with one message naming the file.

A ``.pt`` file whose pickle calls ``os.system`` must be refused by ``load_checkpoint`` and by
every verb that reads checkpoints (export, predict --model, train --resume) without the command
ever running.  A checkpoint with an unknown architecture or a config that does not fit its
architecture gives one ``wholebody <verb>: PATH: reason`` line, exit status 1, no traceback.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from wholebody.cli.main import main
from wholebody.models.registry import build_model
from wholebody.models.checkpoints import CheckpointError, load_checkpoint, load_model, save_checkpoint

torch.set_num_threads(1)


class _RunsACommand:
    """Pickles as a call to ``os.system(command)``: what a malicious checkpoint carries."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.fixture()
def evil(tmp_path):
    """(checkpoint path, marker path): loading the checkpoint unsafely creates the marker."""
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    torch.save({"format": "wholebody-checkpoint", "format_version": 1, "architecture": "zoomnet",
                "payload": _RunsACommand(f"touch {marker}")}, path)
    return path, marker


def _image(tmp_path):
    path = tmp_path / "images" / "one.png"
    path.parent.mkdir()
    Image.fromarray(np.full((40, 30, 3), 255, np.uint8)).save(path)
    return path


def test_the_payload_really_runs_when_unpickled_unsafely(evil):
    path, marker = evil  # guards the fixture: the refusal below is meaningful only if this holds
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_load_checkpoint_refuses_a_pickle_that_runs_code(evil):
    path, marker = evil
    with pytest.raises(CheckpointError, match=r"evil\.pt: refused: .*could run code.*system"):
        load_checkpoint(path)
    assert not marker.exists()


def test_every_verb_refuses_it_without_running_it(evil, tmp_path, capsys):
    path, marker = evil
    assert main(["export", "--model", str(path), "--onnx", str(tmp_path / "m.onnx")]) == 1
    assert main(["predict", str(_image(tmp_path)), "--out", str(tmp_path / "out"), "--model", str(path), "-q"]) == 1
    assert main(["train", "zoomnet", "--data", str(tmp_path / "none.json"), "--images", str(tmp_path),
                 "--out", str(tmp_path / "train"), "--resume", str(path), "--device", "cpu"]) == 1
    assert not marker.exists()
    err = capsys.readouterr().err
    assert err.count(f"{path}: refused") == 3, err
    assert "Traceback" not in err


def test_checkpoints_written_by_training_still_load(tmp_path):
    model = build_model("zoomnet", tiny=True, input_size=(64, 48))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    save_checkpoint(tmp_path / "last.pt", {
        "architecture": "zoomnet", "config": model.config.to_dict(), "model": model.state_dict(),
        "optimizer": optimizer.state_dict(), "epoch": 0, "step": 3, "rng": {"torch": torch.get_rng_state()},
        "train_config": {"lr_steps": (0.8, 0.95), "resume": None}, "metrics": {"stats": {"body": {"AP": 0.5}}}})
    loaded = load_model(tmp_path / "last.pt")
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))


@pytest.fixture()
def tiny_zoomnet_state():
    model = build_model("zoomnet", tiny=True, input_size=(64, 48))
    return {"architecture": "zoomnet", "config": model.config.to_dict(), "model": model.state_dict()}


@pytest.mark.parametrize("change, reason", [
    ({"architecture": "resnet9000"}, "cannot build the stored 'resnet9000' model (unknown architecture"),
    ({"architecture": "hrnet133"}, "cannot build the stored 'hrnet133' model"),  # a ZoomNet config and weights labelled as HRNet-133
    ({"config": {"no_such_field": 1}}, "cannot build the stored 'zoomnet' model"),
])
def test_a_mislabelled_checkpoint_is_one_message_naming_the_file(tiny_zoomnet_state, change, reason, tmp_path,
                                                                   capsys):
    path = tmp_path / "mislabelled.pt"
    save_checkpoint(path, tiny_zoomnet_state | change)
    with pytest.raises(CheckpointError) as caught:
        load_model(path)
    assert str(caught.value).startswith(f"{path}: ") and reason in str(caught.value)
    assert main(["export", "--model", str(path), "--onnx", str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"wholebody export: {path}: ") and err.count("\n") == 1, err


def test_predict_names_the_checkpoint_of_an_unknown_architecture(tiny_zoomnet_state, tmp_path, capsys):
    path = tmp_path / "foreign.pt"
    save_checkpoint(path, tiny_zoomnet_state | {"architecture": "resnet9000"})
    assert main(["predict", str(_image(tmp_path)), "--out", str(tmp_path / "out"), "--model", str(path), "-q"]) == 1
    err = capsys.readouterr().err
    assert str(path) in err and "resnet9000" in err and "Traceback" not in err
