"""Shared test fixtures: the real samples in ``../shared/fixtures`` (absent in a user's clone)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

# Tests and benchmarks run single-threaded: with the other core busy, 2-thread runs slow down 5-10x.
os.environ.setdefault("OMP_NUM_THREADS", "1")

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The shared fixtures folder, or skip: a fresh clone has no ``../shared``."""
    if not FIXTURES.is_dir():
        pytest.skip(f"real fixtures not found at {FIXTURES} (they live in ../shared/fixtures beside the repo)")
    return FIXTURES


@pytest.fixture(scope="session")
def coco_dir(fixtures_dir) -> Path:
    """The COCO-WholeBody fixture folder (4 images and their annotation file)."""
    return fixtures_dir / "coco_wholebody"


@pytest.fixture(scope="session")
def ground_truth(coco_dir) -> dict:
    """The COCO-WholeBody fixture's annotation file, parsed."""
    return json.loads((coco_dir / "test_coco_wholebody.json").read_text())


def _no_detector(image):
    raise AssertionError("these tests pass ground-truth boxes; the detector must not run")


@pytest.fixture(scope="session")
def gt_box_estimator():
    """The default estimator that must be given person boxes (its detector fails the test)."""
    pytest.importorskip("mediapipe", reason="the part experts need mediapipe==0.10.14's bundled models")
    pytest.importorskip("ai_edge_litert", reason="the part experts run the models with ai-edge-litert")
    from wholebody.experts import WholeBodyEstimator

    return WholeBodyEstimator(detector=_no_detector)


@pytest.fixture(scope="session")
def gt_box_results(gt_box_estimator, coco_dir):
    """Its results on the COCO-WholeBody fixture with the ground-truth boxes, computed once per
    session (the estimator tests and the per-part floors both read them)."""
    from wholebody.experts.benchmark import predict_annotation_file

    return predict_annotation_file(gt_box_estimator, coco_dir / "test_coco_wholebody.json", coco_dir, gt_boxes=True)
