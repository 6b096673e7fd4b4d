"""The training-speed benchmark on CPU and the host-sync counter it uses."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from wholebody.train.host_syncs import count_host_syncs

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "train_speed.py"
KEYS = {"arch", "device", "batch", "images_per_s", "fwd_gflops_per_sample", "achieved_tflops", "mfu",
        "host_syncs_per_step", "peak_mem_gb"}
torch.set_num_threads(1)


def _benchmark():
    spec = importlib.util.spec_from_file_location("train_speed", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_counts_host_reads_once_each_and_not_the_optimizers_counters():
    x = torch.randn(50)
    param = torch.nn.Parameter(torch.randn(3))
    optimizer = torch.optim.Adam([param])

    def work():
        _ = x.sum().item()          # 1: item (its _local_scalar_dense is nested, not counted again)
        if (x > 0).any():           # 2: is_nonzero
            pass
        _ = x[x > 0]                # 3: a boolean mask needs the number of hits
        _ = torch.nonzero(x > 1)    # 4
        param.sum().backward()
        optimizer.step()            # reads its host-side step counter: not a device sync

    syncs, by_op = count_host_syncs(work)
    assert syncs == 4, by_op
    assert count_host_syncs(lambda: (x * 2).sum())[0] == 0


def test_cpu_record_has_the_documented_keys(fixtures_dir, tmp_path):
    bench = _benchmark()
    out = tmp_path / "speed.json"
    assert bench.main(["--arch", "hrnet133", "--device", "cpu", "--tiny", "--batch", "1", "--steps", "1",
                       "--warmup", "0", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert set(record) == KEYS
    assert record["arch"] == "hrnet133" and record["device"] == "cpu" and record["batch"] == 1
    assert record["images_per_s"] > 0 and record["fwd_gflops_per_sample"] > 0 and record["peak_mem_gb"] > 0
    assert record["mfu"] is None  # no CPU peak known unless given
    assert record["achieved_tflops"] == pytest.approx(3 * record["fwd_gflops_per_sample"] * record["images_per_s"] / 1e3,
                                                      rel=1e-2)


def test_mfu_against_a_given_peak():
    bench = _benchmark()
    assert bench.peak_tflops(torch.device("cpu"), None) is None
    assert bench.peak_tflops(torch.device("cpu"), 2.0) == 2.0
