"""Training loop on CPU: steps run, checkpoint + resume continues identically, foreign or damaged
checkpoints are refused, checkpoint writes are atomic, evaluation and the CLI work end to end."""

from __future__ import annotations

import json

import pytest
import torch

from wholebody.cli.main import main
from wholebody.models.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from wholebody.train.loop import TrainConfig, epoch_order, lr_factor, train

torch.set_num_threads(1)


def config(cocowb, out, **overrides) -> TrainConfig:
    values = dict(architecture="zoomnet", annotations=str(cocowb / "test_coco_wholebody.json"), images=str(cocowb),
                  out=str(out), tiny=True, input_size=(64, 48), epochs=2, batch_size=4, lr=1e-3, warmup_steps=2,
                  checkpoint_every=2, eval_every=0, log_every=1, threads=1)
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture()
def cocowb(fixtures_dir):
    return fixtures_dir / "coco_wholebody"


def test_resume_continues_exactly_where_the_run_stopped(cocowb, tmp_path):
    straight = train(config(cocowb, tmp_path / "a", max_steps=3))
    assert len(straight.losses) == 3 and all(l > 0 for l in straight.losses)
    first = train(config(cocowb, tmp_path / "b", max_steps=2))
    assert first.losses == straight.losses[:2]
    state = load_checkpoint(tmp_path / "b" / "last.pt", "zoomnet")
    assert (state["epoch"], state["batch_in_epoch"], state["step"]) == (0, 2, 2)
    resumed = train(config(cocowb, tmp_path / "c", max_steps=3, resume=str(tmp_path / "b" / "last.pt")))
    assert resumed.losses == straight.losses[2:]  # bit-identical third step
    assert resumed.steps == 3


def _first_conv_output_dtypes(monkeypatch) -> list[torch.dtype]:
    """Make train() record the dtype of its model's first convolution output on every forward."""
    import wholebody.train.loop as loop

    seen: list[torch.dtype] = []
    build = loop.build_model

    def recording_build(*args, **kwargs):
        model = build(*args, **kwargs)
        conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
        conv.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
        return model

    monkeypatch.setattr(loop, "build_model", recording_build)
    return seen


@pytest.mark.parametrize("amp, dtype", [(True, torch.bfloat16), (False, torch.float32)])
def test_bf16_autocast_step_on_cpu(cocowb, tmp_path, monkeypatch, amp, dtype):
    """amp=True really runs the convolutions in bf16 on CPU (and amp=False in float32)."""
    seen = _first_conv_output_dtypes(monkeypatch)
    result = train(config(cocowb, tmp_path / "amp", max_steps=1, amp=amp))
    assert len(result.losses) == 1 and 0 < result.losses[0] < 1
    assert seen and set(seen) == {dtype}


def test_foreign_or_damaged_checkpoints_are_refused(cocowb, tmp_path):
    train(config(cocowb, tmp_path / "z", max_steps=1))
    path = tmp_path / "z" / "last.pt"
    with pytest.raises(CheckpointError, match="is a 'zoomnet' model, cannot use it as 'hrnet133'"):
        train(config(cocowb, tmp_path / "h", architecture="hrnet133", resume=str(path)))
    state = load_checkpoint(path)
    state.pop("format"), state.pop("format_version")
    newer = tmp_path / "newer.pt"
    torch.save({"format": "wholebody-checkpoint", "format_version": 99, **state}, newer)
    with pytest.raises(CheckpointError, match="format version 99 is not supported"):
        load_checkpoint(newer)
    plain = tmp_path / "plain.pt"
    torch.save({"state_dict": {}}, plain)
    with pytest.raises(CheckpointError, match="not a wholebody checkpoint"):
        load_checkpoint(plain)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(truncated)


def test_failed_checkpoint_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"architecture": "zoomnet", "step": 1})
    before = path.read_bytes()
    with pytest.raises(Exception):
        save_checkpoint(path, {"architecture": "zoomnet", "step": 2, "bad": lambda: None})  # unpicklable
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary left behind


def test_schedule_and_data_order():
    assert lr_factor(0, 10, 210, 500, (170 / 210, 200 / 210)) == pytest.approx(0.001)
    assert lr_factor(500, 10, 210, 500, (170 / 210, 200 / 210)) == 1.0
    assert lr_factor(1700, 10, 210, 500, (170 / 210, 200 / 210)) == pytest.approx(0.1)
    assert lr_factor(2000, 10, 210, 500, (170 / 210, 200 / 210)) == pytest.approx(0.01)
    shards = [epoch_order(10, 0, 3, rank, 4) for rank in range(4)]
    assert all(len(s) == 3 for s in shards) and set(sum(shards, [])) == set(range(10))
    assert epoch_order(10, 0, 3, 0, 1) == epoch_order(10, 0, 3, 0, 1) != epoch_order(10, 0, 4, 0, 1)


def test_epoch_end_evaluates_and_logs(cocowb, tmp_path):
    result = train(config(cocowb, tmp_path / "e", epochs=1, batch_size=6, checkpoint_every=100))
    assert result.steps == 2
    assert set(result.metrics["stats"]) == {"body", "foot", "face", "lefthand", "righthand", "wholebody"}
    lines = [json.loads(line) for line in (tmp_path / "e" / "log.jsonl").read_text().splitlines()]
    assert any("eval" in line for line in lines) and "summary" in lines[-1]
    assert lines[-1]["summary"]["skipped"] == 0
    assert load_checkpoint(tmp_path / "e" / "last.pt")["metrics"]["epoch"] == 1


def test_cli_trains_a_tiny_model(cocowb, tmp_path, capsys):
    status = main(["train", "hrnet133", "--data", str(cocowb / "test_coco_wholebody.json"), "--images", str(cocowb),
                   "--out", str(tmp_path / "cli"), "--tiny", "--input-size", "64", "48", "--epochs", "1",
                   "--batch-size", "12", "--eval-every", "0", "--threads", "1"])
    assert status == 0
    assert (tmp_path / "cli" / "last.pt").is_file()
    assert "wholebody AP" in capsys.readouterr().out
