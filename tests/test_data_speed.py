"""The data-pipeline benchmark on the fixtures: its record, and what it says crosses the worker boundary."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "data_speed.py"
STAGES = {"decode", "geometry", "warp", "targets"}


def _benchmark():
    spec = importlib.util.spec_from_file_location("data_speed", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_record_compares_both_pipelines_on_the_cpu(fixtures_dir, tmp_path):
    out = tmp_path / "data.json"
    assert _benchmark().main(["--arch", "zoomnet", "--workers", "0", "--batch", "2", "--batches", "2",
                              "--rounds", "1", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["device"] == "cpu" and record["gpu_target_images_per_s"] == 290.0
    before, after = record["pipelines"]["before"], record["pipelines"]["after"]
    assert set(before["split_ms"]) == STAGES and set(after["split_ms"]) == STAGES | {"device_targets_on_cpu"}
    assert all(p["samples_per_s"] > 0 and p["workers_per_gpu"]["zoomnet"] >= 1 for p in (before, after))
    # uint8 crop (3 x 384 x 288) + labels and the crop matrix, against float crop + heatmaps
    assert 3 * 384 * 288 < after["bytes_per_sample"] < 3 * 384 * 288 + 4096 < before["bytes_per_sample"] / 10
    assert 0.0 <= record["draft_candidates"] <= 1.0


def test_bad_arguments_are_refused(fixtures_dir):
    assert _benchmark().main(["--batches", "1"]) == 1
