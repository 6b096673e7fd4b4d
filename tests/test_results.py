"""person_to_result(_3d) records and the streaming JSON writer."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from fake_estimator import person_in_box

from wholebody.data.cocowb import load_results
from wholebody.data.results import JsonListWriter, open_results_3d, person_to_result, person_to_result_3d
from wholebody.schema import JSON_KEYPOINT_FIELDS, PART_SIZES


def _person():
    person = person_in_box(np.array([10.0, 20.0, 60.0, 150.0]))
    person.track_id = 7
    return person


def test_result_record_fields():
    person = _person()
    entry = person_to_result(person, 42, file_name="sub/a.jpg", frame=3)
    assert entry["image_id"] == 42 and entry["category_id"] == 1
    for part, key in JSON_KEYPOINT_FIELDS.items():
        assert len(entry[key]) == 3 * PART_SIZES[part]
    flat = np.concatenate([entry[key] for key in JSON_KEYPOINT_FIELDS.values()]).reshape(133, 3)
    np.testing.assert_allclose(flat, person.keypoints, atol=0.005)
    assert entry["score"] == entry["wholebody_score"] == 0.9
    assert (entry["foot_score"], entry["face_score"], entry["lefthand_score"]) == (0.6, 0.8, 0.7)
    assert entry["person_box"] == [10.0, 20.0, 60.0, 150.0]
    assert entry["face_valid"] and entry["lefthand_valid"] and not entry["righthand_valid"]
    assert entry["righthand_box"] == [0.0, 0.0, 0.0, 0.0]
    assert (entry["track_id"], entry["file_name"], entry["frame"]) == (7, "sub/a.jpg", 3)
    orjson.dumps(entry)  # plain JSON types only


def test_missing_part_score_is_the_mean_keypoint_score():
    person = _person()
    person.part_scores = {}
    person.track_id = None
    entry = person_to_result(person, 1)
    assert entry["foot_score"] == pytest.approx(person.part("foot")[:, 2].mean(), abs=1e-5)
    assert "track_id" not in entry and "file_name" not in entry


def test_records_pass_the_project_results_loader(tmp_path):
    entries = [person_to_result(_person(), image_id) for image_id in (1, 2)]
    with JsonListWriter(tmp_path / "results.json") as writer:
        for entry in entries:
            writer.append(entry)
    results = load_results(tmp_path / "results.json")
    assert len(results) == 2 and results.score_fallback["foot"] == 0
    np.testing.assert_allclose(results.keypoints[0], _person().keypoints, atol=0.005)


def test_3d_record():
    entry = person_to_result_3d(_person(), 5, file_name="a.jpg")
    assert np.array(entry["body_3d"]).shape == (23, 3) and np.array(entry["face_3d"]).shape == (68, 3)
    assert np.array(entry["lefthand_3d"]).shape == (21, 3) and entry["righthand_3d"] is None
    assert (entry["image_id"], entry["track_id"], entry["file_name"]) == (5, 7, "a.jpg")


def test_json_list_writer_is_atomic(tmp_path):
    path = tmp_path / "out.json"
    path.write_bytes(b'["old"]')
    with pytest.raises(RuntimeError):
        with JsonListWriter(path) as writer:
            writer.append({"a": np.float32(1.5)})
            raise RuntimeError("crash")
    assert orjson.loads(path.read_bytes()) == ["old"]  # the previous file survives
    with JsonListWriter(path) as writer:
        assert orjson.loads(path.read_bytes()) == ["old"]  # replaced only on close
        writer.append({"a": np.float32(1.5)})
        writer.append([1, 2])
    assert orjson.loads(path.read_bytes()) == [{"a": 1.5}, [1, 2]]
    with JsonListWriter(tmp_path / "empty.json"):
        pass
    assert orjson.loads((tmp_path / "empty.json").read_bytes()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.json", "out.json"]


def test_results_3d_file_documents_its_frames(tmp_path):
    with open_results_3d(tmp_path / "r3d.json") as writer:
        writer.append(person_to_result_3d(_person(), 1))
    data = orjson.loads((tmp_path / "r3d.json").read_bytes())
    assert data["coordinate_frames"]["units"] == "metres" and "mid-hip" in data["coordinate_frames"]["body_3d"]
    assert len(data["people"]) == 1
