"""Specification of the COCO-WholeBody loader, validator and results writer."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from wholebody.data.cocowb import load_ground_truth, load_results, result_entry, split_blocks, write_results
from wholebody.data.errors import AnnotationError
from wholebody.schema import PART_SLICES


def _gt(n_people=2):
    anns = []
    for i in range(n_people):
        anns.append({
            "id": 100 + i, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 5000.0,
            "bbox": [10, 20, 50, 100],
            "keypoints": [1.0, 2.0, 2] * 17, "foot_kpts": [3, 4, 1] * 6, "face_kpts": [5, 6, 1.0] * 68,
            "lefthand_kpts": [0, 0, 0] * 21, "righthand_kpts": [7, 8, 2] * 21,
            "face_box": [1, 2, 3, 4], "lefthand_box": [0, 0, 0, 0], "righthand_box": [5, 6, 7, 8],
            "face_valid": True, "lefthand_valid": False, "righthand_valid": True, "foot_valid": True,
        })
    return {"images": [{"id": 1, "file_name": "a.jpg", "width": 640, "height": 480}], "annotations": anns,
            "categories": [{"id": 1, "name": "person"}]}


def _results(n=2):
    return [result_entry(1, np.full((133, 3), 0.5), 0.9) for _ in range(n)]


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def test_fixture_ground_truth_matches_its_readme(fixtures_dir):
    gt = load_ground_truth(fixtures_dir / "coco_wholebody" / "test_coco_wholebody.json")
    assert len(gt) == 14 and len(gt.images) == 4
    assert gt.keypoints.shape == (14, 133, 3)
    assert {p: int(f.sum()) for p, f in gt.part_valid.items()} == {"foot": 10, "face": 4, "lefthand": 5, "righthand": 5}
    # the 133 vector is the concatenation of the five blocks, in order
    raw = json.loads((fixtures_dir / "coco_wholebody" / "test_coco_wholebody.json").read_text())["annotations"][3]
    flat = raw["keypoints"] + raw["foot_kpts"] + raw["face_kpts"] + raw["lefthand_kpts"] + raw["righthand_kpts"]
    np.testing.assert_array_equal(gt.keypoints[3].ravel(), np.array(flat, dtype=float))
    no_labels = {int(i) for i in gt.ann_ids[(gt.keypoints[..., 2] > 0).sum(1) == 0]}
    assert no_labels == {1202706, 508900}
    person = gt.person(3)
    assert person.id == raw["id"] and person.keypoints.shape == (133, 3)


def test_results_round_trip_through_writer(tmp_path):
    gt = load_ground_truth(_gt())
    kpts = np.random.default_rng(0).uniform(0, 100, (133, 3))
    entries = [result_entry(1, kpts, 0.7, {"face": 0.3, "body": 0.7}, file_name="a.jpg")]
    write_results(tmp_path / "r.json", entries)
    res = load_results(tmp_path / "r.json", gt)
    np.testing.assert_allclose(res.keypoints[0], kpts)
    assert res.scores["face"][0] == 0.3 and res.scores["foot"][0] == 0.7  # foot falls back to 'score'
    assert res.score_fallback["foot"] == 1 and res.score_fallback["face"] == 0
    assert list(tmp_path.iterdir()) == [tmp_path / "r.json"]  # no temp file left behind


def test_split_blocks_cuts_at_the_part_boundaries():
    kpts = np.arange(399, dtype=float).reshape(133, 3)
    blocks = split_blocks(kpts)
    assert [len(blocks[k]) for k in ("keypoints", "foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts")] == [51, 18, 204, 63, 63]
    assert blocks["face_kpts"][0] == PART_SLICES["face"].start * 3


def test_missing_valid_flags_are_derived_from_labels():
    data = _gt()
    for ann in data["annotations"]:
        del ann["lefthand_valid"], ann["righthand_valid"]
    gt = load_ground_truth(data)
    assert not gt.part_valid["lefthand"].any() and gt.part_valid["righthand"].all()


GT_CASES = [
    ("wrong block length", lambda d: d["annotations"][1].__setitem__("face_kpts", [1, 2, 1] * 67), "record 101", "face_kpts", "204"),
    ("NaN", lambda d: d["annotations"][0]["foot_kpts"].__setitem__(4, float("nan")), "record 100", "foot_kpts", "NaN"),
    ("inf", lambda d: d["annotations"][1]["keypoints"].__setitem__(0, float("inf")), "record 101", "keypoints", "finite"),
    ("string value", lambda d: d["annotations"][1]["righthand_kpts"].__setitem__(5, "x"), "record 101", "righthand_kpts", "number"),
    ("null value", lambda d: d["annotations"][0]["lefthand_kpts"].__setitem__(0, None), "record 100", "lefthand_kpts", "number"),
    ("true in a keypoint list", lambda d: d["annotations"][1]["face_kpts"].__setitem__(7, True), "record 101", "face_kpts", "True"),
    ("missing id", lambda d: d["annotations"][1].pop("id"), "record 1", "'id'", "missing"),
    ("duplicate id", lambda d: d["annotations"][1].__setitem__("id", 100), "record 100", "'id'", "duplicate"),
    ("string id", lambda d: d["annotations"][1].__setitem__("id", "101"), "record 1", "'id'", "integer"),
    ("missing block", lambda d: d["annotations"][1].pop("foot_kpts"), "record 101", "foot_kpts", "missing"),
    ("unknown image", lambda d: d["annotations"][1].__setitem__("image_id", 7), "record 101", "image_id", "not in 'images'"),
    ("negative area", lambda d: d["annotations"][0].__setitem__("area", -3), "record 100", "area", "non-negative"),
    ("bad bbox", lambda d: d["annotations"][0].__setitem__("bbox", [1, 2, 3]), "record 100", "bbox", "4 values"),
    ("bad flag", lambda d: d["annotations"][0].__setitem__("iscrowd", 2), "record 100", "iscrowd", "0/1"),
    ("negative visibility", lambda d: d["annotations"][1]["keypoints"].__setitem__(2, -1), "record 101", "keypoints", ">= 0"),
    ("duplicate image", lambda d: d["images"].append({"id": 1}), "record 1", "'id'", "duplicate image"),
]


@pytest.mark.parametrize("case,mutate,record,field,reason", GT_CASES, ids=[c[0] for c in GT_CASES])
def test_malformed_ground_truth_names_file_record_and_field(tmp_path, case, mutate, record, field, reason):
    data = _gt()
    mutate(data)
    path = _write(tmp_path, "gt.json", data)  # Python's json writes NaN/Infinity literals
    with pytest.raises(AnnotationError) as info:
        load_ground_truth(path)
    message = str(info.value)
    assert message.startswith(path) and record in message and field in message and reason in message, message


RESULT_CASES = [
    ("unknown image id", lambda r: r[1].__setitem__("image_id", 99), "record 1", "image_id", "not in the ground truth"),
    ("wrong block length", lambda r: r[0].__setitem__("lefthand_kpts", [0.0] * 62), "record 0", "lefthand_kpts", "63"),
    ("non-numeric score", lambda r: r[1].__setitem__("score", "high"), "record 1", "'score'", "number"),
    ("NaN part score", lambda r: r[1].__setitem__("face_score", float("nan")), "record 1", "face_score", "finite"),
    ("missing image id", lambda r: r[0].pop("image_id"), "record 0", "image_id", "missing"),
    ("false in a keypoint list", lambda r: r[0]["righthand_kpts"].__setitem__(2, False), "record 0", "righthand_kpts", "False"),
    ("nested keypoints", lambda r: r[0].__setitem__("keypoints", [[1, 2, 3]] * 17), "record 0", "keypoints", "51"),
    ("not an object", lambda r: r.__setitem__(1, [1, 2]), "record 1", None, "object"),
]


@pytest.mark.parametrize("case,mutate,record,field,reason", RESULT_CASES, ids=[c[0] for c in RESULT_CASES])
def test_malformed_results_name_file_record_and_field(tmp_path, case, mutate, record, field, reason):
    gt = load_ground_truth(_gt())
    results = copy.deepcopy(_results())
    mutate(results)
    path = _write(tmp_path, "res.json", results)
    with pytest.raises(AnnotationError) as info:
        load_results(path, gt)
    message = str(info.value)
    assert message.startswith(path) and record in message and reason in message, message
    if field:
        assert field in message, message


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(AnnotationError, match="cannot read"):
        load_ground_truth(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(AnnotationError, match="not valid JSON"):
        load_ground_truth(bad)
    with pytest.raises(AnnotationError, match="must be a JSON list"):
        load_results(_gt())


def test_empty_results_are_valid():
    res = load_results([], load_ground_truth(_gt()))
    assert len(res) == 0 and res.keypoints.shape == (0, 133, 3)
