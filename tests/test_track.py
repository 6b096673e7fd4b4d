"""PersonTracker keeps IDs through motion, crossings and missed frames; One-Euro smooths with little lag."""

from __future__ import annotations

import numpy as np
from fake_estimator import person_in_box

from wholebody.carry_over import follow_boxes
from wholebody.smoothing import KeypointSmoother, OneEuroFilter
from wholebody.track import PersonTracker, box_iou


def _people(boxes_by_identity: dict[str, list[float]], rng: np.random.Generator) -> tuple[list, list[str]]:
    """People for one frame, in a shuffled order (detectors give no stable order)."""
    names = list(boxes_by_identity)
    rng.shuffle(names)
    return [person_in_box(np.array(boxes_by_identity[n], float)) for n in names], names


def _run(tracker: PersonTracker, frames: list[dict[str, list[float]]], frame_indices=None) -> dict[str, set[int]]:
    """Track the frames; return the set of IDs each true identity received."""
    rng = np.random.default_rng(0)
    ids: dict[str, set[int]] = {}
    for t, boxes in zip(frame_indices or range(len(frames)), frames):
        people, names = _people(boxes, rng)
        tracker.update(people, t)
        for name, person in zip(names, people):
            ids.setdefault(name, set()).add(person.track_id)
    return ids


def test_box_iou():
    assert box_iou(np.array([0, 0, 10, 10.0]), np.array([0, 0, 10, 10.0])) == 1.0
    assert box_iou(np.array([0, 0, 10, 10.0]), np.array([5, 0, 10, 10.0])) == 50 / 150
    assert box_iou(np.array([0, 0, 10, 10.0]), np.array([20, 0, 10, 10.0])) == 0.0


def test_ids_are_stable_for_people_moving_apart():
    frames = [{"a": [10 + 4 * t, 20, 60, 150], "b": [200 - 3 * t, 30, 50, 140], "c": [300, 10 + 2 * t, 70, 160]}
              for t in range(30)]
    ids = _run(PersonTracker(), frames)
    assert all(len(v) == 1 for v in ids.values()), ids
    assert len(set.union(*ids.values())) == 3


def test_ids_survive_two_people_crossing():
    # Two similar people walk towards each other and pass between frames 10 and 11, so each one's
    # new box overlaps the *other's* previous box more than its own: box overlap alone would swap.
    frames = [{"a": [20 + 10 * t, 20, 60, 180], "b": [230 - 10 * t, 30, 60, 170]} for t in range(21)]
    box = {name: [np.array(f[name], float) for f in frames] for name in ("a", "b")}
    assert box_iou(box["a"][11], box["b"][10]) > box_iou(box["a"][11], box["a"][10])
    ids = _run(PersonTracker(), frames)
    assert ids["a"] != ids["b"] and all(len(v) == 1 for v in ids.values()), ids


def test_ids_survive_missed_frames_and_index_gaps():
    frames = [{"a": [10 + 5 * t, 20, 60, 150], "b": [300, 20, 60, 150]} for t in range(12)]
    for t in (4, 5, 6):
        del frames[t]["a"]  # person a is missed for three frames (within max_missed)
    ids = _run(PersonTracker(max_missed=5), frames)
    assert all(len(v) == 1 for v in ids.values()), ids
    # Broken frames make indices jump: 0, 1, 2, 6, 7 is still one track.
    ids = _run(PersonTracker(), frames[:5], frame_indices=[0, 1, 2, 6, 7])
    assert all(len(v) == 1 for v in ids.values()), ids


def test_ids_are_retired_after_max_missed_and_never_reused():
    tracker = PersonTracker(max_missed=2)
    first = _run(tracker, [{"a": [10, 20, 60, 150]}] * 3)
    later = _run(tracker, [{}] * 3 + [{"a": [10, 20, 60, 150]}, {"new": [300, 20, 60, 150]}], frame_indices=[3, 4, 5, 6, 7])
    assert first["a"] == {1} and later["a"] == {2} and later["new"] == {3}


def _filter_signal(signal: np.ndarray, fps: float, one_euro: OneEuroFilter, size: float) -> np.ndarray:
    return np.array([one_euro(np.array([v]), i / fps, size)[0] for i, v in enumerate(signal)])


def test_one_euro_reduces_jitter_and_lags_little_on_a_ramp():
    fps, size, frames = 30.0, 200.0, 300
    noise = np.random.default_rng(1).normal(0.0, 2.0, frames)  # 1 % of the person size
    still = _filter_signal(100 + noise, fps, OneEuroFilter(0.5, 20.0), size)
    assert np.std(still[30:] - 100) < 0.6 * np.std(noise[30:])
    ramp = 100 + size * np.arange(frames) / fps  # moving one person size per second
    adaptive = _filter_signal(ramp, fps, OneEuroFilter(0.5, 20.0), size)
    fixed = _filter_signal(ramp, fps, OneEuroFilter(0.5, 0.0), size)  # same still cutoff, no speed term
    lag, fixed_lag = np.mean((ramp - adaptive)[60:]), np.mean((ramp - fixed)[60:])
    assert 0 < lag < 2.5 and fixed_lag > 20 * lag  # the speed term is what keeps the lag small


def test_one_euro_restarts_inactive_elements():
    one_euro = OneEuroFilter(0.5, 0.0)
    one_euro(np.array([0.0, 0.0]), 0.0)
    out = one_euro(np.array([10.0, 10.0]), 1 / 30, active=np.array([True, False]))
    assert 0 < out[0] < 10 and out[1] == 10.0  # filtered vs passed through
    out = one_euro(np.array([20.0, 20.0]), 2 / 30)
    assert out[1] == 20.0  # restarted from the observation, no stale history


def test_smoother_is_per_track_resolution_free_and_skips_low_scores():
    results = {}
    for scale in (1.0, 4.0):
        smoother = KeypointSmoother(fps=30.0)
        rng = np.random.default_rng(2)
        trace = []
        for t in range(20):
            people = [person_in_box(np.array([10 + t, 20, 60, 150.0]) * scale),
                      person_in_box(np.array([300, 20, 60, 150.0]) * scale)]
            for track_id, person in enumerate(people, start=1):
                person.track_id = track_id
                person.keypoints[:, :2] += rng.normal(0, 1.5 * scale, (133, 2))
            raw_toe = people[0].keypoints[18].copy()  # score 0: must pass through untouched
            smoother.update(people, t)
            np.testing.assert_array_equal(people[0].keypoints[18], raw_toe)
            trace.append(np.stack([p.keypoints[:, :2] for p in people]))
        results[scale] = np.array(trace)
    # Same motion at 4x the resolution gives 4x the output: parameters are in person sizes.
    np.testing.assert_allclose(results[4.0], 4 * results[1.0], rtol=1e-9, atol=1e-6)
    # The still second person is smoothed: its nose moves much less than the added noise.
    nose = results[1.0][5:, 1, 0]
    assert np.std(nose, axis=0).max() < 1.0


def test_smoother_smooths_3d_per_part_and_passes_low_score_points_through():
    rng = np.random.default_rng(5)
    clean = person_in_box(np.array([100, 20, 60, 150.0])).keypoints_3d
    traces = {True: [], False: []}
    for smooth_3d in (True, False):
        smoother = KeypointSmoother(fps=30.0, smooth_3d=smooth_3d)
        for t in range(30):
            person = person_in_box(np.array([100, 20, 60, 150.0]))
            person.track_id = 1
            person.keypoints[18, 2] = 0.0  # a foot point below the score threshold
            for part, xyz in person.keypoints_3d.items():
                if xyz is not None:
                    person.keypoints_3d[part] = xyz + rng.normal(0, 0.01, xyz.shape)  # 1 cm noise
            raw_toe = person.keypoints_3d["body"][18].copy()
            smoother.update([person], t)
            if smooth_3d:
                np.testing.assert_array_equal(person.keypoints_3d["body"][18], raw_toe)
            assert person.keypoints_3d["righthand"] is None
            traces[smooth_3d].append({p: v.copy() for p, v in person.keypoints_3d.items() if v is not None})
    for part in ("body", "face", "lefthand"):
        smoothed = np.abs(np.array([f[part] for f in traces[True][10:]]) - clean[part]).mean()
        raw = np.abs(np.array([f[part] for f in traces[False][10:]]) - clean[part]).mean()
        assert smoothed < 0.6 * raw, (part, smoothed, raw)


def test_follow_boxes_grow_the_scored_body_extent_and_keep_the_box_score():
    person = person_in_box(np.array([100, 20, 60, 150.0]))
    person.keypoints[:23, :2] = [[100.0, 50.0]] * 23
    person.keypoints[0, :2], person.keypoints[16, :2] = (90.0, 40.0), (110.0, 140.0)  # extent 20 x 100
    person.keypoints[5, :2], person.keypoints[5, 2] = (500.0, 500.0), 0.1  # below the threshold: ignored
    person.keypoints[:23, 2] = np.where(np.arange(23) == 5, 0.1, 0.9)
    person.box_score = 0.7
    unseen = person_in_box(np.array([300, 20, 60, 150.0]))
    unseen.keypoints[:, 2] = 0.0  # no scored point: keeps its own box, score unknown -> 1
    boxes, scores = follow_boxes([person, unseen], score_thr=0.3, margin=0.15)
    np.testing.assert_allclose(boxes[0], [90 - 3, 40 - 15, 20 * 1.3, 100 * 1.3])
    np.testing.assert_allclose(boxes[1], [300, 20, 60, 150])
    np.testing.assert_allclose(scores, [0.7, 1.0])
    assert follow_boxes([], 0.3)[0].shape == (0, 4)
