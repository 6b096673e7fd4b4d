"""End-to-end proof (issue 4): a tiny ZoomNet overfits the 4 real fixture images to whole-body AP > 0.9.

Data loading, targets, the zoom-in heads, decoding and the evaluator must agree for this to pass.
It takes about 2 minutes on one core (150 steps, deterministic from the seed), the one slow test.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "overfit_zoomnet.py"


@pytest.mark.slow
def test_tiny_zoomnet_overfits_the_fixture_images(fixtures_dir):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    spec = importlib.util.spec_from_file_location("overfit_zoomnet", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    figures = module.overfit(steps=150, eval_every=150, seed=0, fixtures=fixtures_dir / "coco_wholebody")
    assert figures["wholebody_ap"] >= 0.9, figures["ap_by_part"]
    assert all(ap > 0.7 for ap in figures["ap_by_part"].values()), figures["ap_by_part"]
