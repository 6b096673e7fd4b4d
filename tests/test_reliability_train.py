"""Training under bad data and signals: a NaN / Infinity / 1e400 literal costs one named record,
a missing image counts once in the skip total, and Ctrl-C / SIGTERM end with one line that says
where the checkpoint is and how to resume (status 130 / 143), never a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import wholebody.train.loop as loop
from wholebody.cli.main import main
from wholebody.data.interrupts import Terminated
from wholebody.models.checkpoints import load_checkpoint
from wholebody.train.zoomnet.dataset import load_training_set
from wholebody.train.loop import TrainConfig, train

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def cocowb(fixtures_dir):
    return fixtures_dir / "coco_wholebody"


@pytest.mark.parametrize("literal, shown", [("NaN", "nan"), ("Infinity", "inf"), ("-Infinity", "-inf"),
                                            ("1e400", "inf")])
def test_a_non_finite_literal_costs_one_named_record(cocowb, tmp_path, literal, shown):
    data = json.loads((cocowb / "test_coco_wholebody.json").read_text())
    record = data["annotations"][1]
    record["keypoints"][3] = "@@"
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(data).replace('"@@"', literal))  # not JSON, but Python's json writes it
    complete = load_training_set(cocowb / "test_coco_wholebody.json", cocowb)
    loaded = load_training_set(path, cocowb)
    assert loaded.skipped == [f"{path}: record {record['id']}: keypoints: value 3 is {shown}, must be finite "
                              "(no NaN or infinity)"]
    assert len(loaded.rows) == len(complete.rows) - 1


def test_a_missing_image_counts_once(cocowb, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    data = json.loads((cocowb / "test_coco_wholebody.json").read_text())
    names = sorted({image["file_name"] for image in data["images"]})
    for name in names[1:]:  # all images but the first
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(cocowb / name, images / name)
    config = TrainConfig(architecture="zoomnet", annotations=str(cocowb / "test_coco_wholebody.json"),
                         images=str(images), out=str(tmp_path / "out"), tiny=True, input_size=(64, 48), epochs=2,
                         batch_size=4, lr=1e-3, warmup_steps=2, checkpoint_every=100, eval_every=1, threads=1)
    result = train(config)  # two epochs and two evaluations meet the missing image four times
    assert len(result.skipped) == 1 and result.skipped[0].startswith(f"{images / names[0]}: no such file")


@pytest.mark.parametrize("interrupt, status, said", [(KeyboardInterrupt, 130, "interrupted"),
                                                     (Terminated, 143, "terminated (SIGTERM)")])
def test_interrupted_training_says_how_to_resume(tmp_path, monkeypatch, capsys, interrupt, status, said):
    out = tmp_path / "out"

    def interrupted_after_a_checkpoint(config):
        out.mkdir(exist_ok=True)  # the output-folder lock has already made it
        (out / "last.pt").write_bytes(b"checkpoint")
        raise interrupt()

    monkeypatch.setattr(loop, "train", interrupted_after_a_checkpoint)
    args = ["train", "zoomnet", "--data", "a.json", "--images", "img", "--out", str(out)]
    assert main(args) == status
    assert capsys.readouterr().err == (f"wholebody train: {said}; last checkpoint: {out / 'last.pt'}; to continue, "
                                       f"run the same command with --resume {out / 'last.pt'}\n")


def test_interrupted_before_the_first_checkpoint(tmp_path, monkeypatch, capsys):
    def interrupted_at_once(config):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "train", interrupted_at_once)
    assert main(["train", "zoomnet", "--data", "a.json", "--images", "img", "--out", str(tmp_path / "o")]) == 130
    assert "no checkpoint was written yet" in capsys.readouterr().err


@pytest.mark.slow  # a real training process, about 10 s
def test_ctrl_c_in_a_real_training_run(cocowb, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "wholebody", "train", "zoomnet", "--tiny", "--input-size", "64", "48",
               "--data", str(cocowb / "test_coco_wholebody.json"), "--images", str(cocowb), "--out", str(out),
               "--epochs", "1000", "--batch-size", "4", "--checkpoint-every", "1", "--eval-every", "0",
               "--device", "cpu", "--threads", "1"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not (out / "last.pt").exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert err.strip().splitlines()[-1] == (f"wholebody train: interrupted; last checkpoint: {out / 'last.pt'}; to "
                                            f"continue, run the same command with --resume {out / 'last.pt'}")
    assert load_checkpoint(out / "last.pt", "zoomnet")["step"] >= 1  # intact
