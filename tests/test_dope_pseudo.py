"""Pseudo ground truth (Eq. 1): expert people -> part instances, merging with real labels, teacher cache."""

import numpy as np
import pytest

from wholebody.data.adapters.sample import PartInstance, Sample
from wholebody.data.errors import ImageError
from wholebody.models.dope.layout import WHOLEBODY
from wholebody.schema import PART_SLICES
from wholebody.train.dope.pseudo import combine, load_teacher_cache, person_to_instances, run_teacher, sample_key
from wholebody.types import Person


def expert_person(offset=0.0, hand_score=0.9, face_score=0.2):
    keypoints = np.zeros((133, 3))
    keypoints[:23, :2] = np.stack([np.linspace(100, 200, 23), np.linspace(50, 400, 23)], 1) + offset
    keypoints[:23, 2] = 0.9
    keypoints[3, 2] = 0.1  # below MIN_POINT_SCORE: not observed
    for side in ("lefthand", "righthand"):
        keypoints[PART_SLICES[side], :2] = np.stack([np.linspace(0, 20, 21), np.linspace(0, 30, 21)], 1) + 300 + offset
        keypoints[PART_SLICES[side], 2] = 0.8
    keypoints[PART_SLICES["face"], :2] = np.stack([np.linspace(140, 160, 68), np.linspace(40, 70, 68)], 1) + offset
    keypoints[PART_SLICES["face"], 2] = 0.7
    body3d = np.random.default_rng(0).normal(0, 0.3, (23, 3))
    return Person(keypoints=keypoints, score=0.9,
                  part_scores={"body": 0.9, "lefthand": hand_score, "righthand": 0.0, "face": face_score},
                  keypoints_3d={"body": body3d, "lefthand": np.ones((21, 3)), "face": None})


def test_person_to_instances():
    instances = person_to_instances(expert_person(), WHOLEBODY, person_index=3)
    assert sorted((i.part, i.is_right) for i in instances) == [("body", None), ("face", None), ("hand", False)]
    body = next(i for i in instances if i.part == "body")
    assert not body.visible2d[3] and body.visible2d.sum() == 22 and body.person == 3 and body.score == 0.9
    assert np.allclose(body.pose3d[list(WHOLEBODY.body_hips)].mean(0), 0)  # re-rooted on the mid-hip
    hand = next(i for i in instances if i.part == "hand")
    assert np.allclose(hand.pose3d, 0)  # wrist-relative copy of a constant pose
    face = next(i for i in instances if i.part == "face")
    assert face.pose3d is None


def test_eq1_real_labels_where_present_experts_elsewhere():
    real_body = PartInstance("body", expert_person(offset=2.0).keypoints[:23, :2], np.ones(23, bool),
                             box=np.array([90.0, 40.0, 212.0, 412.0]))
    sample = Sample("h36m", "1", None, None, [real_body], frozenset({"body"}))
    labels = combine(sample, [expert_person()], WHOLEBODY, min_score=0.5)
    parts = sorted(i.part for i in labels.ground_truth)
    assert parts == ["body", "hand"]  # expert face (0.2) is below min_score; expert body replaced by the real one
    body = next(i for i in labels.ground_truth if i.part == "body")
    assert np.allclose(body.pose2d, real_body.pose2d) and body.score == 1.0
    assert body.visible3d is not None and body.visible3d.sum() == 22  # 3D borrowed from the overlapping expert body
    assert len(labels.expert) == 3  # all expert instances kept for distillation


def test_eq1_unlabelled_and_empty_images():
    unlabelled = Sample("unlabelled", "a.jpg", None, None)
    labels = combine(unlabelled, [expert_person(), expert_person(offset=500.0)], WHOLEBODY, min_score=0.1)
    assert sorted(i.part for i in labels.ground_truth) == ["body", "body", "face", "face", "hand", "hand"]
    empty = combine(unlabelled, [], WHOLEBODY)
    assert empty.ground_truth == [] and empty.expert == []


def test_teacher_runs_once_and_cache_round_trips(tmp_path):
    calls = []

    def teacher(image):
        calls.append(image.shape)
        return [expert_person()]

    good = Sample("unlabelled", "good", tmp_path / "good.png", None)
    bad = Sample("unlabelled", "bad", tmp_path / "bad.png", None)

    def load(sample):
        if sample is bad:
            raise ImageError(sample.image_path, "cannot decode")
        return np.zeros((4, 4, 3), np.uint8)

    cache = tmp_path / "teacher.json"
    people, skipped = run_teacher([good, bad], teacher, cache, load)
    assert len(calls) == 1 and len(skipped) == 1 and "bad.png" in skipped[0]
    again, _ = run_teacher([good], teacher, cache, load)
    assert len(calls) == 1  # cached
    loaded = load_teacher_cache(cache)[sample_key(good)][0]
    assert np.allclose(loaded.keypoints, people[sample_key(good)][0].keypoints)
    assert loaded.keypoints_3d["face"] is None and loaded.keypoints_3d["body"].shape == (23, 3)


def test_bad_cache_is_refused(tmp_path):
    path = tmp_path / "cache.json"
    path.write_text('{"format": "other"}')
    with pytest.raises(Exception, match="teacher cache"):
        load_teacher_cache(path)
