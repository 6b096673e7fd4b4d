"""A module-level stand-in for ``wholebody.cli.predict.load_estimator`` that pickles by name, so
``predict --workers N`` (spawned processes) can build the fake estimator.  Not a test module."""

from __future__ import annotations

from fake_estimator import FakeEstimator


def load_fake_estimator(model_path=None, **options) -> FakeEstimator:
    return FakeEstimator()


class _SlowFake(FakeEstimator):
    def __call__(self, image, person_boxes=None, person_scores=None):
        import time

        time.sleep(0.4)  # long enough for a test to interrupt the run midway
        return super().__call__(image, person_boxes, person_scores)


def load_slow_fake_estimator(model_path=None, **options) -> FakeEstimator:
    return _SlowFake()
