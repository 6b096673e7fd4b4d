"""wholebody.data.results_fast: the simdjson path must give exactly what the validating loader gives."""

from __future__ import annotations

import json

import numpy as np
import orjson
import pytest

from wholebody.data import cocowb
from wholebody.data.errors import AnnotationError
from wholebody.data.results_fast import read_results_arrays
from wholebody.eval.synthetic import SyntheticSpec, make_synthetic

pytest.importorskip("simdjson")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    gt_data, results = make_synthetic(0, SyntheticSpec(n_images=12, score_fields="mixed", float32=True))
    folder = tmp_path_factory.mktemp("fast")
    path = folder / "results.json"
    path.write_bytes(orjson.dumps(results))
    return cocowb.load_ground_truth(gt_data), results, path


def test_fast_path_equals_validating_path(synthetic):
    gt, results, path = synthetic
    assert read_results_arrays(str(path)) is not None  # the file really takes the fast path
    fast = cocowb.load_results(path, gt=gt)
    slow = cocowb.load_results(results, gt=gt)  # in-memory lists always take the validating path
    np.testing.assert_array_equal(fast.keypoints, slow.keypoints)
    np.testing.assert_array_equal(fast.image_ids, slow.image_ids)
    np.testing.assert_array_equal(fast.category_ids, slow.category_ids)
    assert fast.score_fallback == slow.score_fallback
    assert 0 < fast.score_fallback["face"] < len(results)
    for part in slow.scores:
        np.testing.assert_array_equal(fast.scores[part], slow.scores[part])
    assert fast.keypoints.flags.c_contiguous and fast.keypoints.dtype == np.float64


def _write(tmp_path, text):
    path = tmp_path / "odd.json"
    path.write_text(text)
    return str(path)


def _record(**changes):
    rec = {"image_id": 1, "category_id": 1, "score": 0.5, "keypoints": [1.0] * 51, "foot_kpts": [1] * 18,
           "face_kpts": [1.0] * 204, "lefthand_kpts": [1.0] * 63, "righthand_kpts": [1.0] * 63}
    rec.update(changes)
    return rec


@pytest.mark.parametrize("text", [
    json.dumps([_record(keypoints=[[1.0, 2.0, 0.5]] * 17)]),  # nested triplets
    json.dumps([_record(score=True)]),
    json.dumps([_record(image_id=1.0)]),
    json.dumps([_record(face_score=None)]),
    json.dumps([_record(foot_kpts=[1.0] * 17 + ["x"])]),
    json.dumps([{k: v for k, v in _record().items() if k != "score"}]),
    json.dumps([_record()])[:-2] + ', "score": 0.7}]',  # repeated key: json keeps the last
    '[{"image_id": 1, "score": NaN}]',
    json.dumps({"not": "a list"}),
])
def test_anything_unusual_goes_to_the_validating_path(tmp_path, text):
    assert read_results_arrays(_write(tmp_path, text)) is None


def test_unknown_image_goes_to_the_validating_path_which_names_it(tmp_path):
    path = _write(tmp_path, json.dumps([_record(image_id=5)]))
    assert read_results_arrays(path) is not None
    assert read_results_arrays(path, known_images=np.array([1, 2])) is None
    gt = cocowb.load_ground_truth({"images": [{"id": 1}], "annotations": [], "categories": []})
    with pytest.raises(AnnotationError, match="record 0.*image_id"):
        cocowb.load_results(path, gt=gt)


def test_repeated_key_keeps_the_last_value_like_json(tmp_path):
    path = _write(tmp_path, json.dumps([_record()])[:-2] + ', "score": 0.7}]')
    assert cocowb.load_results(path).scores["body"][0] == 0.7


def test_missing_file_is_reported_by_the_validating_path(tmp_path):
    assert read_results_arrays(str(tmp_path / "absent.json")) is None
    with pytest.raises(AnnotationError, match="cannot read"):
        cocowb.load_results(tmp_path / "absent.json")
