"""A module-level stand-in for ``wholebody.cli.predict.load_estimator`` that pickles by name, so
``predict --workers N`` (spawned processes) can build the fake estimator.  Not a test module."""

from __future__ import annotations

from fake_estimator import FakeEstimator


def load_fake_estimator(model_path=None, **options) -> FakeEstimator:
    return FakeEstimator()
