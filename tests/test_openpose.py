"""``--format openpose``: the BODY_25 / FACE_70 / HAND_21 maps and the files, read back as OpenPose defines them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest
from PIL import Image

from wholebody.predict.openpose import openpose_path, person_to_openpose
from wholebody.schema.openpose import BODY25_NAMES, body25_from_wholebody, face70_from_ibug68

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
from fake_estimator import FakeEstimator, person_in_box  # noqa: E402

RUN_WITH_FAKE = """
import sys
sys.path.insert(0, {tests!r})
import wholebody.cli.predict as predict
from fake_estimator import FakeEstimator
predict.load_estimator = lambda model_path, **options: FakeEstimator()
from wholebody.cli.main import main
sys.exit(main(sys.argv[1:]))
"""
# OpenPose's BODY_25 name -> COCO-WholeBody name (written out independently of the schema's table).
NAMED = {"Nose": 0, "RShoulder": 6, "RElbow": 8, "RWrist": 10, "LShoulder": 5, "LElbow": 7, "LWrist": 9,
         "RHip": 12, "RKnee": 14, "RAnkle": 16, "LHip": 11, "LKnee": 13, "LAnkle": 15, "REye": 2, "LEye": 1,
         "REar": 4, "LEar": 3, "LBigToe": 17, "LSmallToe": 18, "LHeel": 19, "RBigToe": 20, "RSmallToe": 21,
         "RHeel": 22}


def _predict(*args) -> subprocess.CompletedProcess:
    script = ["-c", RUN_WITH_FAKE.format(tests=str(TESTS))]
    return subprocess.run([sys.executable, *script, "predict", *map(str, args)], capture_output=True, text=True,
                          env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=120)


def _random_points(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    points = np.concatenate([rng.uniform(0, 500, (133, 2)), rng.uniform(0.1, 1, (133, 1))], axis=1)
    return points


def test_body25_takes_named_points_and_builds_neck_and_midhip():
    points = _random_points(0)
    body = body25_from_wholebody(points)
    assert body.shape == (25, 3) and len(BODY25_NAMES) == 25
    for name, index in NAMED.items():
        np.testing.assert_array_equal(body[BODY25_NAMES.index(name)], points[index])
    for name, (a, b) in (("Neck", (5, 6)), ("MidHip", (11, 12))):
        row = body[BODY25_NAMES.index(name)]
        np.testing.assert_allclose(row[:2], (points[a, :2] + points[b, :2]) / 2)
        assert row[2] == min(points[a, 2], points[b, 2])


def test_face70_appends_the_eye_centres_as_pupils():
    face = _random_points(1)[23:91]
    face70 = face70_from_ibug68(face)
    assert face70.shape == (70, 3)
    np.testing.assert_array_equal(face70[:68], face)
    np.testing.assert_allclose(face70[68, :2], face[36:42, :2].mean(axis=0))
    np.testing.assert_allclose(face70[69, :2], face[42:48, :2].mean(axis=0))
    assert face70[69, 2] == face[42:48, 2].min()


def test_unseen_points_are_zeros_and_3d_is_empty_where_missing():
    person = person_in_box(np.array([10.0, 20.0, 100.0, 200.0]))
    person.keypoints[5, 2] = 0.0  # left shoulder unseen: LShoulder and Neck are 0, 0, 0
    entry = person_to_openpose(person)
    pose = np.array(entry["pose_keypoints_2d"]).reshape(25, 3)
    assert (pose[BODY25_NAMES.index("LShoulder")] == 0).all() and (pose[BODY25_NAMES.index("Neck")] == 0).all()
    assert (pose[BODY25_NAMES.index("RShoulder")] != 0).all()
    assert entry["person_id"] == [-1]
    assert entry["hand_right_keypoints_3d"] == [] and len(entry["hand_left_keypoints_3d"]) == 21 * 4
    assert len(entry["pose_keypoints_3d"]) == 25 * 4 and len(entry["face_keypoints_3d"]) == 70 * 4


def test_file_names_follow_openpose():
    assert openpose_path("out", "a/b") == Path("out/openpose/a/b_keypoints.json")
    assert openpose_path("out", "cam01", 7) == Path("out/openpose/cam01_json/cam01_000000000007_keypoints.json")


def _read_openpose(path: Path) -> list[dict]:
    """A reader that knows only OpenPose's format: per person, flat x, y, c triplets (x, y, z, c in 3D)."""
    data = orjson.loads(path.read_bytes())
    assert data["version"] == 1.3
    people = []
    for person in data["people"]:
        sizes = {"pose_keypoints_2d": 25, "face_keypoints_2d": 70, "hand_left_keypoints_2d": 21,
                 "hand_right_keypoints_2d": 21}
        read = {key: np.array(person[key], dtype=float).reshape(n, 3) for key, n in sizes.items()}
        for key, n in (("pose_keypoints_3d", 25), ("face_keypoints_3d", 70), ("hand_left_keypoints_3d", 21),
                       ("hand_right_keypoints_3d", 21)):
            read[key] = np.array(person[key], dtype=float).reshape(-1, 4) if person[key] else None
            assert read[key] is None or read[key].shape == (n, 4)
        read["person_id"] = person["person_id"][0]
        people.append(read)
    return people


def test_predict_writes_openpose_files_for_images_and_video_frames(tmp_path):
    cv2 = pytest.importorskip("cv2")
    data = tmp_path / "in"
    data.mkdir()
    image = np.zeros((240, 320, 3), np.uint8)
    image[40:190, 40:100] = 255
    image[50:210, 180:240] = 255
    Image.fromarray(image).save(data / "two.png")
    writer = cv2.VideoWriter(str(data / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for k in range(3):
        frame = np.zeros((240, 320, 3), np.uint8)
        frame[40:190, 40 + 5 * k:100 + 5 * k] = 255
        writer.write(frame)
    writer.release()
    out = tmp_path / "out"
    done = _predict(data, "--out", out, "--format", "openpose", "--no-overlay")
    assert done.returncode == 0, done.stderr

    people = _read_openpose(out / "openpose" / "two_keypoints.json")
    expected = FakeEstimator()(image)
    assert len(people) == 2
    for read, person in zip(people, expected):
        pose = read["pose_keypoints_2d"]
        np.testing.assert_allclose(pose[BODY25_NAMES.index("RWrist")], person.keypoints[10], atol=0.01)
        np.testing.assert_allclose(pose[1, :2], person.keypoints[[5, 6], :2].mean(axis=0), atol=0.01)
        np.testing.assert_allclose(read["hand_left_keypoints_2d"], person.keypoints[91:112], atol=0.01)
        np.testing.assert_allclose(read["face_keypoints_2d"][:68], person.keypoints[23:91], atol=0.01)
        assert read["pose_keypoints_3d"] is not None and read["hand_right_keypoints_3d"] is None

    frames = sorted((out / "openpose" / "clip_json").iterdir())
    assert [p.name for p in frames] == [f"clip_{k:012d}_keypoints.json" for k in range(3)]
    tracked = [_read_openpose(p) for p in frames]
    assert all(len(people) == 1 for people in tracked)
    assert len({people[0]["person_id"] for people in tracked}) == 1 and tracked[0][0]["person_id"] >= 0
