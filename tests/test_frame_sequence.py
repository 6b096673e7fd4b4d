"""One per-frame pipeline for video files and live streams: carry-over, track ids, smoothing."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_estimator import FakeEstimator  # noqa: E402

from wholebody.predict.sequence import FrameSequence, SequenceOptions  # noqa: E402


class CarryingFake(FakeEstimator):
    accepts_carry = True

    def __init__(self) -> None:
        super().__init__()
        self.carries = []

    def __call__(self, image, person_boxes=None, person_scores=None, carry=None):
        self.carries.append(carry)
        return super().__call__(image, person_boxes, person_scores)


def _frame_with_box(x: int) -> np.ndarray:
    frame = np.zeros((120, 160, 3), np.uint8)
    frame[20:100, x:x + 30] = 255
    return frame


def test_carry_over_reaches_the_estimator_and_a_missed_frame_resets_it():
    sequence, estimator = FrameSequence(fps=25.0), CarryingFake()
    people = sequence.estimate(estimator, _frame_with_box(40))
    sequence.update(people, 0)
    assert estimator.carries[0] is None  # nothing to carry into the first frame
    sequence.estimate(estimator, _frame_with_box(44))
    boxes, scores, angles, ids = estimator.carries[1]
    assert boxes.shape == (1, 4) and boxes[0, 0] < 40 + 30 and boxes[0, 0] + boxes[0, 2] > 40
    # ids are given before the carry-over is recorded, so the carried box names its person's track
    assert people[0].track_id is not None and ids.tolist() == [people[0].track_id] and angles.shape == (1,)
    sequence.missed()
    sequence.estimate(estimator, _frame_with_box(48))
    assert estimator.carries[2] is None


def test_tracked_and_smoothed_people_keep_one_id():
    sequence, estimator = FrameSequence(fps=25.0), FakeEstimator()
    ids = []
    for frame, x in enumerate(range(40, 60, 4)):
        people = sequence.estimate(estimator, _frame_with_box(x))
        sequence.update(people, frame)
        ids.append(people[0].track_id)
    assert len(set(ids)) == 1 and ids[0] is not None
    untracked = FrameSequence(fps=25.0, options=SequenceOptions(track=False))
    assert untracked.tracker is None and untracked.smoother is None  # smoothing follows identities
