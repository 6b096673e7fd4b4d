"""Multi-process training under torchrun: two CPU processes on the gloo backend (the CUDA path
differs only in the backend, NCCL, and the device), end to end through the CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from wholebody.models.checkpoints import load_checkpoint


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(args: list[str], tmp_path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}",
               "-m", "wholebody", "train", *args, "--out", str(tmp_path / "run"), "--log-every", "1"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def _log(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]


def test_dope_trains_on_two_processes_with_sharded_data(fixtures_dir, tmp_path):
    pytest.importorskip("torch.distributed")
    done = _torchrun(["dope", "--tiny", "--source", f"cocowb={fixtures_dir / 'coco_wholebody' / 'test_coco_wholebody.json'}",
                      "--teacher", "none", "--max-steps", "3", "--min-size", "128"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("trained 3 steps") == 1  # one summary, from rank 0
    steps = [entry for entry in _log(tmp_path) if "step" in entry]
    # 4 images, 2 per step: each rank holds 2 of them, so every step starts a new epoch
    # (one process would need 2 steps per epoch)
    assert [s["epoch"] for s in steps] == [0, 1, 2]
    assert load_checkpoint(tmp_path / "run" / "last.pt", "dope")["step"] == 3


def test_top_down_trains_on_two_processes_with_sharded_data(fixtures_dir, tmp_path):
    pytest.importorskip("torch.distributed")
    cocowb = fixtures_dir / "coco_wholebody"
    done = _torchrun(["hrnet133", "--tiny", "--data", str(cocowb / "test_coco_wholebody.json"), "--images", str(cocowb),
                      "--epochs", "1", "--batch-size", "2", "--eval-every", "0"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    # 12 labelled people, 2 per step: 6 steps for one process, 3 when two processes share them
    assert done.stdout.count("trained 3 steps") == 1
    assert load_checkpoint(tmp_path / "run" / "last.pt", "hrnet133")["step"] == 3
    assert "eval" in _log(tmp_path)[-2]  # rank 0 evaluated at the end
