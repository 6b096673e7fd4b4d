"""wholebody.eval.cocoeval: the COCO-WholeBody evaluator must equal xtcocotools 1.14.3."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wholebody.data.cocowb import load_ground_truth, load_results
from wholebody.eval.cocoeval import STAT_NAMES, compute_oks, evaluate, format_table
from wholebody.eval.synthetic import SyntheticSpec, make_synthetic
from wholebody.schema import EVAL_PARTS, JSON_KEYPOINT_FIELDS, PART_SLICES, SIGMAS_BY_PART

XTCOCOTOOLS_MISSING = ("the reference evaluator xtcocotools is not installed (dev extra; scripts/test.sh builds it "
                       "from source, since its wheel fails with numpy 2)")

TOLERANCE = 1e-12

# Stress sets: each knob of the generator turned up in one of them.
STRESS_SPECS = {
    "mmpose-like": SyntheticSpec(n_images=40),
    "ties-mixed-fields-3-categories": SyntheticSpec(n_images=30, n_categories=3, score_fields="mixed", tie_levels=4,
                                                    false_per_image=12),
    "crowds-many-results-all-fields": SyntheticSpec(n_images=25, score_fields="all", tie_levels=3,
                                                    results_per_person=9, crowd_fraction=0.25),
    "unlabelled-zero-scores-float32": SyntheticSpec(n_images=50, float32=True, zero_part_prob=0.3,
                                                    unlabelled_fraction=0.3, empty_image_fraction=0.3),
}


def _expected_stats(fixtures_dir):
    data = json.loads((fixtures_dir / "xtcocotools_examples" / "expected_stats_xtcocotools-1.14.3.json").read_text())
    assert len(data["stats_order"]) == len(STAT_NAMES)
    return {part: dict(zip(STAT_NAMES, data[f"keypoints_{part}"])) for part in EVAL_PARTS}


def test_fixture_pair_matches_reference_stats(fixtures_dir):
    folder = fixtures_dir / "xtcocotools_examples"
    gt = load_ground_truth(folder / "example_wholebody_val.json")
    res = load_results(folder / "example_wholebody_preds.json", gt=gt)
    evaluation = evaluate(gt, res)
    expected = _expected_stats(fixtures_dir)
    assert set(evaluation.stats) == set(EVAL_PARTS)
    for part in EVAL_PARTS:
        for name in STAT_NAMES:
            assert evaluation.stats[part][name] == pytest.approx(expected[part][name], abs=TOLERANCE), (part, name)
        assert evaluation.precision[part].shape == (10, 101, 3)
        assert evaluation.recall[part].shape == (10, 3)


def test_ground_truth_as_results_scores_ap_one(fixtures_dir):
    data = json.loads((fixtures_dir / "coco_wholebody" / "test_coco_wholebody.json").read_text())
    results = []
    for ann in data["annotations"]:
        if not ann.get("iscrowd"):
            # The visibility flags become keypoint scores: unlabelled points score 0.
            results.append({"image_id": ann["image_id"], "category_id": ann["category_id"], "score": 1.0,
                            **{field: ann[field] for field in JSON_KEYPOINT_FIELDS.values()}})
    gt = load_ground_truth(data)
    evaluation = evaluate(gt, load_results(results, gt=gt))
    labelled = gt.keypoints[~gt.iscrowd, :, 2] > 0
    for part in EVAL_PARTS:
        points = PART_SLICES.get(part, slice(0, 133))
        if labelled[:, points].any():
            assert evaluation.stats[part]["AP"] == 1.0, part
            assert evaluation.stats[part]["AR"] == 1.0, part
        else:
            assert evaluation.stats[part]["AP"] == -1.0, part


def test_stress_sets_exercise_what_they_claim():
    gt, results = make_synthetic(0, STRESS_SPECS["crowds-many-results-all-fields"])
    assert any(a["iscrowd"] for a in gt["annotations"])
    per_image = np.bincount([r["image_id"] for r in results])
    assert per_image.max() > 20
    scores = [r["score"] for r in results]
    assert len(set(scores)) < len(scores)  # ties
    annotated = {a["image_id"] for a in gt["annotations"]}
    assert any(img["id"] not in annotated for img in gt["images"])
    mixed = make_synthetic(1, STRESS_SPECS["ties-mixed-fields-3-categories"])[1]
    assert 0 < sum("face_score" in r for r in mixed) < len(mixed)
    assert len({r["category_id"] for r in mixed}) == 4  # 3 used + 1 listed without people
    sparse = make_synthetic(2, STRESS_SPECS["unlabelled-zero-scores-float32"])[1]
    face_scores = np.array([r["face_kpts"][2::3] for r in sparse])
    assert (face_scores.max(axis=1) == 0).any()


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", sorted(STRESS_SPECS))
def test_parity_with_xtcocotools_on_stress_sets(name, seed):
    pytest.importorskip("xtcocotools", reason=XTCOCOTOOLS_MISSING)
    from wholebody.eval.reference import xtcocotools_stats

    gt_data, results = make_synthetic(seed, STRESS_SPECS[name])
    gt = load_ground_truth(gt_data)
    evaluation = evaluate(gt, load_results(results, gt=gt))
    reference, evals = xtcocotools_stats(gt_data, results, keep_evals=True)
    for part in EVAL_PARTS:
        for stat in STAT_NAMES:
            assert evaluation.stats[part][stat] == pytest.approx(reference[part][stat], abs=TOLERANCE), (part, stat)
        ref_eval = evals[part].eval
        np.testing.assert_array_equal(evaluation.precision[part], ref_eval["precision"][:, :, 0, :, 0])
        np.testing.assert_array_equal(evaluation.recall[part], ref_eval["recall"][:, 0, :, 0])


def test_compute_oks_equals_xtcocotools_bit_for_bit():
    pytest.importorskip("xtcocotools", reason=XTCOCOTOOLS_MISSING)
    from wholebody.eval.reference import xtcocotools_stats

    gt_data, results = make_synthetic(3, SyntheticSpec(n_images=6, unlabelled_fraction=0.3, crowd_fraction=0.2))
    _, evals = xtcocotools_stats(gt_data, results, parts=("face", "wholebody"), keep_evals=True)
    gt = load_ground_truth(gt_data)
    res = load_results(results, gt=gt)
    compared = 0
    for part, coco_eval in evals.items():
        points = PART_SLICES.get(part, slice(0, 133))
        for (image_id, category_id), ious in coco_eval.ious.items():
            if len(ious) == 0:
                continue
            # COCOeval's rows: that part's results of the image, best score first (stable), <= 20.
            mine = np.flatnonzero((res.image_ids == image_id) & (res.category_ids == category_id)
                                  & (res.keypoints[:, points, 2] > 0).any(axis=1))
            mine = mine[np.argsort(-res.scores[part][mine], kind="mergesort")][:20]
            people = np.flatnonzero((gt.image_ids == image_id) & (gt.category_ids == category_id))
            area = np.where(np.isnan(gt.area[people]), 0.0, gt.area[people])
            oks = compute_oks(res.keypoints[mine][:, points], gt.keypoints[people][:, points], area,
                              gt.bbox[people], SIGMAS_BY_PART[part])
            np.testing.assert_array_equal(oks, ious)
            compared += oks.size
    assert compared > 100


def test_compute_oks_box_fallback_for_unlabelled_person():
    sigmas = np.full(2, 0.1)
    person = np.zeros((1, 2, 3))  # no labelled point: distances to the box grown by its size
    bbox = np.array([[10.0, 10.0, 10.0, 10.0]])  # grown box: x, y in [0, 30]
    inside = np.array([[[5.0, 5.0, 1.0], [25.0, 25.0, 1.0]]])
    outside = np.array([[[-4.0, 15.0, 1.0], [15.0, 33.0, 1.0]]])  # 4 px left, 3 px below
    assert compute_oks(inside, person, np.array([100.0]), bbox, sigmas)[0, 0] == 1.0
    e = np.array([16.0, 9.0]) / (2 * sigmas) ** 2 / (100.0 + np.spacing(1)) / 2
    expected = np.exp(-e).mean()
    assert compute_oks(outside, person, np.array([100.0]), bbox, sigmas)[0, 0] == pytest.approx(expected, rel=1e-15)


def test_results_are_never_modified_and_parts_are_independent():
    gt_data, results = make_synthetic(4, SyntheticSpec(n_images=10))
    gt = load_ground_truth(gt_data)
    res = load_results(results, gt=gt)
    before = res.keypoints.copy()
    everything = evaluate(gt, res)
    face_only = evaluate(gt, res, parts=("face",))
    assert face_only.stats["face"] == everything.stats["face"]
    np.testing.assert_array_equal(res.keypoints, before)
    with pytest.raises(ValueError, match="unknown part"):
        evaluate(gt, res, parts=("tail",))


def test_format_table_rows_and_columns():
    stats = {part: dict.fromkeys(STAT_NAMES, 0.5) for part in EVAL_PARTS}
    short = format_table(stats).splitlines()
    assert short[0].split() == ["part", "AP", "AR"]
    assert [line.split()[0] for line in short[2:]] == ["body", "foot", "face", "left", "right", "whole-body"]
    assert format_table(stats, full=True).splitlines()[0].split() == ["part", *STAT_NAMES]


@pytest.mark.parametrize("case", ["no results", "one result", "no people"])
def test_degenerate_inputs_match_xtcocotools(case):
    pytest.importorskip("xtcocotools", reason=XTCOCOTOOLS_MISSING)
    from wholebody.eval.reference import xtcocotools_stats

    gt_data, results = make_synthetic(7, SyntheticSpec(n_images=5))
    results = {"no results": [], "one result": results[:1], "no people": results}[case]
    if case == "no people":
        gt_data = dict(gt_data, annotations=[])
    gt = load_ground_truth(gt_data)
    stats = evaluate(gt, load_results(results, gt=gt)).stats
    reference = xtcocotools_stats(gt_data, results)
    for part in EVAL_PARTS:
        assert stats[part] == pytest.approx(reference[part], abs=TOLERANCE), part


def test_results_with_boxes_take_their_area_from_the_box_as_xtcocotools(tmp_path):
    """loadRes takes each result's area from its ``bbox`` when the first record has one."""
    pytest.importorskip("xtcocotools", reason=XTCOCOTOOLS_MISSING)
    from wholebody.eval.reference import xtcocotools_stats

    gt_data, results = make_synthetic(3, SyntheticSpec(n_images=40))
    rng = np.random.default_rng(3)
    for r in results:  # boxes unrelated to the keypoints move results across the M/L split
        r["bbox"] = [0.0, 0.0, float(rng.uniform(20, 200)), float(rng.uniform(20, 200))]
    res_path = tmp_path / "res.json"
    res_path.write_text(json.dumps(results))
    gt = load_ground_truth(gt_data)
    res = load_results(res_path, gt=gt)
    assert res.area is not None
    evaluation = evaluate(gt, res)
    reference = xtcocotools_stats(gt_data, results)
    for part in EVAL_PARTS:
        for stat in STAT_NAMES:
            assert evaluation.stats[part][stat] == pytest.approx(reference[part][stat], abs=TOLERANCE), (part, stat)
    # the box areas do change the medium/large numbers compared with the keypoint extent
    results_without = [{k: v for k, v in r.items() if k != "bbox"} for r in results]
    plain = evaluate(gt, load_results(results_without, gt=gt))
    assert any(plain.stats[p]["APm"] != evaluation.stats[p]["APm"] or plain.stats[p]["APl"] != evaluation.stats[p]["APl"]
               for p in EVAL_PARTS)
