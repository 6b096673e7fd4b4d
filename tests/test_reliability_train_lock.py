"""``wholebody train --out DIR`` takes the same output-folder lock as predict: a second run into a
busy folder is refused naming the folder and the other process; a dead run's lock is taken over;
under torchrun only rank 0 (the one that writes) locks.  All three architectures."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

import wholebody.train.dope.train as dope_train
import wholebody.train.loop as loop
from wholebody.cli.main import main
from wholebody.data.folder_lock import LOCK_NAME, OutputFolderBusy, OutputFolderLock

ARCHITECTURES = ["zoomnet", "hrnet133", "dope"]


def _train_args(architecture: str, out) -> list[str]:
    data = ["--source", "cocowb=a.json"] if architecture == "dope" else ["--data", "a.json", "--images", "img"]
    return ["train", architecture, *data, "--out", str(out)]


@pytest.fixture()
def trainer(monkeypatch):
    """Replace both training loops by one that records whether --out was locked while it ran."""
    calls = []

    def fake_train(config, *rest):
        try:
            with OutputFolderLock(config.out):
                locked = False
        except OutputFolderBusy:
            locked = True
        calls.append(locked)
        return SimpleNamespace(steps=0, losses=[], metrics={}, skipped=[])

    monkeypatch.setattr(loop, "train", fake_train)
    monkeypatch.setattr(dope_train, "train_dope", fake_train)
    return calls


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_a_second_train_into_a_busy_folder_is_refused(tmp_path, trainer, capsys, architecture):
    out = tmp_path / "out"
    with OutputFolderLock(out):  # another run (this process) is writing there
        assert main(_train_args(architecture, out)) == 1
    assert trainer == []  # never started
    assert capsys.readouterr().err == (f"wholebody train: {out}: another wholebody run (process {os.getpid()}) "
                                       "is writing to this folder; wait for it or choose another --out\n")


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_train_holds_the_lock_and_takes_over_a_dead_runs(tmp_path, trainer, architecture):
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).write_text("999999\n")  # left by a killed run: no flock held on it
    assert main(_train_args(architecture, out)) == 0
    assert trainer == [True]  # locked while training
    assert not (out / LOCK_NAME).exists()  # released at the end


def test_under_torchrun_only_rank_0_locks(tmp_path, trainer, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setenv("RANK", "1")
    with OutputFolderLock(out):  # rank 0 of the same job holds it
        assert main(_train_args("zoomnet", out)) == 0  # rank 1 trains alongside, without a lock of its own
    assert len(trainer) == 1
