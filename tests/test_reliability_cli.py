"""Every verb: an interrupt (Ctrl-C or SIGTERM) is one ``wholebody <verb>: ...`` line with status
130 / 143, SIGTERM runs the same cleanup as Ctrl-C, and an output that does not fit on the disk
is ``wholebody <verb>: PATH: no space left on device`` with status 1."""

from __future__ import annotations

import errno
import os
import signal
import time

import pytest

import wholebody.eval.cocoeval as cocoeval
from wholebody.cli.main import main
from wholebody.cli.signals import Terminated, terminate_as_interrupt


def test_sigterm_raises_an_interrupt_inside_the_block_only():
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        with terminate_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises as soon as the signal is delivered
    assert signal.getsignal(signal.SIGTERM) is previous


@pytest.mark.parametrize("interrupt, status, said", [(KeyboardInterrupt, 130, "interrupted"),
                                                     (Terminated, 143, "terminated (SIGTERM)")])
def test_an_interrupted_eval_is_one_line(tmp_path, monkeypatch, capsys, interrupt, status, said):
    def interrupted(*args, **kwargs):
        raise interrupt()

    monkeypatch.setattr(cocoeval, "evaluate_files", interrupted)
    assert main(["eval", str(tmp_path / "gt.json"), str(tmp_path / "res.json")]) == status
    assert capsys.readouterr().err == f"wholebody eval: {said}\n"


def test_eval_names_the_stats_file_that_did_not_fit(fixtures_dir, tmp_path, monkeypatch, capsys):
    gt = fixtures_dir / "coco_wholebody" / "test_coco_wholebody.json"
    (tmp_path / "res.json").write_text("[]")

    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    stats = tmp_path / "stats.json"
    assert main(["eval", str(gt), str(tmp_path / "res.json"), "--json", str(stats)]) == 1
    assert capsys.readouterr().err == f"wholebody eval: {stats}: no space left on device\n"
    assert not stats.exists() and list(tmp_path.iterdir()) == [tmp_path / "res.json"]


def test_signals_held_delays_an_interrupt_to_the_end_of_the_block():
    from wholebody.data.atomic import signals_held

    steps = []
    with pytest.raises(Terminated):
        with terminate_as_interrupt():
            with signals_held():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.2)
                steps.append("renamed all")  # not cut short by the signal
            time.sleep(5)
    assert steps == ["renamed all"]
