"""Every verb: an interrupt (Ctrl-C or SIGTERM) is one ``wholebody <verb>: ...`` line with status
130 / 143, SIGTERM runs the same cleanup as Ctrl-C, and an output that does not fit on the disk
is ``wholebody <verb>: PATH: no space left on device`` with status 1."""

from __future__ import annotations

import errno
import os
import signal
import time

import pytest
from pathlib import Path

import wholebody.eval.cocoeval as cocoeval
from wholebody.cli.main import main
from wholebody.data.interrupts import Terminated, interrupts_as_exceptions


def test_sigterm_raises_an_interrupt_inside_the_block_only():
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        with interrupts_as_exceptions():
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


def test_interrupts_held_delays_an_interrupt_to_the_end_of_the_block():
    from concurrent.futures import ThreadPoolExecutor

    from wholebody.data.interrupts import interrupts_held

    steps = []
    # With worker threads alive (as in predict) the kernel may hand the signal to any of them.
    with ThreadPoolExecutor(2) as workers, pytest.raises(Terminated):
        busy = [workers.submit(time.sleep, 1.0) for _ in range(2)]
        with interrupts_as_exceptions():
            with interrupts_held():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.2)
                steps.append("renamed all")  # not cut short by the signal
            steps.append("after the block")  # never reached: the held interrupt is raised first
    assert steps == ["renamed all"] and all(f.done() for f in busy)


def test_an_export_that_fails_leaves_no_file(tmp_path, monkeypatch, capsys):
    import torch

    import wholebody.models.zoomnet.export as export
    from wholebody.models.registry import build_model
    from wholebody.models.checkpoints import save_checkpoint

    model = build_model("zoomnet", tiny=True, input_size=(64, 48))
    save_checkpoint(tmp_path / "m.pt", {"architecture": "zoomnet", "config": model.config.to_dict(),
                                        "model": model.state_dict()})

    def half_written_then_full(model, path, opset=17):
        Path(path).write_bytes(b"half an onnx graph")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(export, "export_onnx", half_written_then_full)
    onnx = tmp_path / "m.onnx"
    assert main(["export", "--model", str(tmp_path / "m.pt"), "--onnx", str(onnx)]) == 1
    assert capsys.readouterr().err == f"wholebody export: {onnx}: no space left on device\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]
    torch.set_num_threads(1)


def test_a_dope_export_that_fails_leaves_no_file(tmp_path, monkeypatch, capsys):
    import wholebody.models.dope.export as dope_export
    from wholebody.models.dope.network import dope_tiny
    from wholebody.models.checkpoints import save_checkpoint

    model = dope_tiny("wholebody", width=8)
    save_checkpoint(tmp_path / "d.pt", {"architecture": "dope", "config": model.config.to_dict(),
                                        "model": model.state_dict()})

    def first_graph_then_full(model, path, opset=17):
        Path(f"{Path(path).with_suffix('')}.rpn.onnx").write_bytes(b"a whole graph")
        Path(f"{Path(path).with_suffix('')}.heads.onnx").write_bytes(b"half a graph")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(dope_export, "export_dope_onnx", first_graph_then_full)
    onnx = tmp_path / "d.onnx"
    assert main(["export", "--model", str(tmp_path / "d.pt"), "--onnx", str(onnx)]) == 1
    assert capsys.readouterr().err == f"wholebody export: {onnx}: no space left on device\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.pt"]
