"""plan_from_inputs / plan_from_coco / attach_boxes: image ids, output names and person boxes."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from wholebody.data.errors import AnnotationError
from wholebody.predict.plan import attach_boxes, plan_from_coco, plan_from_inputs


def test_output_stems_mirror_names_and_avoid_clashes(tmp_path):
    for name in ("a.jpg", "a.png", "b.jpg", "sub/c.JPG"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    items = plan_from_inputs([tmp_path])
    assert [i.output_stem for i in items] == ["a.jpg", "a.png", "b", "sub/c"]
    assert all(i.image_id is None and i.boxes is None for i in items)


def test_output_stems_never_leave_the_output_folder(tmp_path):
    coco = {"images": [{"id": 1, "file_name": "/abs/a.jpg"}, {"id": 2, "file_name": "../up/b.jpg"},
                       {"id": 3, "file_name": "sub/./c.jpg"}], "annotations": [], "categories": []}
    (tmp_path / "ann.json").write_bytes(orjson.dumps(coco))
    items = plan_from_coco(tmp_path, tmp_path / "ann.json")
    assert [i.output_stem for i in items] == ["abs/a", "up/b", "sub/c"]


def test_plan_from_coco_keeps_ids_and_reports_missing_files(fixtures_dir, tmp_path):
    folder = fixtures_dir / "coco_wholebody"
    items = plan_from_coco(folder, folder / "test_coco_wholebody.json")
    assert [i.image_id for i in items] == [785, 40083, 196141, 197388]
    assert all(i.source.kind == "image" and i.source.path.is_file() for i in items)
    assert items[0].source.name == "000000000785.jpg"
    elsewhere = plan_from_coco(tmp_path, folder / "test_coco_wholebody.json")
    assert {i.source.kind for i in elsewhere} == {"missing"}
    with pytest.raises(AnnotationError):
        plan_from_coco(folder, tmp_path / "no_such.json")


def test_boxes_by_image_id_from_the_fixture_detections(fixtures_dir):
    folder = fixtures_dir / "coco_wholebody"
    items = plan_from_coco(folder, folder / "test_coco_wholebody.json")
    detections = fixtures_dir / "coco" / "test_coco_det_AP_H_56.json"
    all_boxes = attach_boxes(items, detections)
    records = orjson.loads(detections.read_bytes())
    assert sum(len(i.boxes) for i in all_boxes) == len(records)
    confident = attach_boxes(items, detections, box_thr=0.5)
    expected = sum(1 for r in records if r["score"] >= 0.5)
    assert sum(len(i.boxes) for i in confident) == expected
    first = [r for r in records if r["image_id"] == 785]
    np.testing.assert_allclose(all_boxes[0].boxes, [r["bbox"] for r in first])
    np.testing.assert_allclose(all_boxes[0].box_scores, [r["score"] for r in first])


def test_boxes_by_file_name_and_bad_files(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "b.jpg").write_bytes(b"x")
    items = plan_from_inputs([tmp_path])
    boxes = tmp_path / "boxes.json"
    boxes.write_bytes(orjson.dumps([{"file_name": "a.jpg", "bbox": [1, 2, 3, 4], "score": 0.9},
                                    {"file_name": "a.jpg", "bbox": [5, 6, 7, 8], "category_id": 2}]))
    with_boxes = attach_boxes(items, boxes)
    np.testing.assert_array_equal(with_boxes[0].boxes, [[1, 2, 3, 4]])  # category 2 dropped
    assert with_boxes[1].boxes.shape == (0, 4)  # not mentioned: no people
    for bad, field in [([{"image_id": 1, "bbox": [0, 0, 1, 1]}], "image_id"),
                       ([{"file_name": "a.jpg", "bbox": [0, 0, 1]}], "bbox"),
                       ([{"file_name": "a.jpg", "bbox": [0, 0, 1, 1], "score": "high"}], "score"),
                       ({"not": "a list"}, None)]:
        boxes.write_bytes(orjson.dumps(bad))
        with pytest.raises(AnnotationError) as caught:
            attach_boxes(items, boxes)
        assert caught.value.field == field and str(boxes) in str(caught.value)
