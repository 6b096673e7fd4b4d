"""Shared test fixtures: the real samples in ``../shared/fixtures`` (absent in a user's clone)."""

from __future__ import annotations

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
