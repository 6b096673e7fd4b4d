"""Any COCO-style keypoint file in the evaluator: parity with xtcocotools per layout, layout
detection and its error message, results mapped between layouts, predict --coco's image list."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from wholebody.data.errors import AnnotationError
from wholebody.data.keypoint_files import load_keypoint_ground_truth, load_keypoint_results, read_image_list
from wholebody.eval.cocoeval import evaluate, evaluate_files
from wholebody.eval.synthetic import SyntheticSpec, make_synthetic
from wholebody.eval.synthetic_layouts import to_layout
from wholebody.schema.formats import FORMATS

xtcocotools = pytest.importorskip("xtcocotools.cocoeval", reason="xtcocotools (the reference) is not installed")
CROWD_ORDER = ("AP", "AP50", "AP75", "AR", "AR50", "AR75", "APeasy", "APmedium", "APhard")
SPEC = SyntheticSpec(n_images=30)


def _write(tmp_path, gt, results):
    gt_path, res_path = tmp_path / "gt.json", tmp_path / "res.json"
    gt_path.write_text(json.dumps(gt))
    res_path.write_text(json.dumps(results))
    return gt_path, res_path


def _reference(gt_path, res_path, iou_type="keypoints", sigmas=None, use_area=True) -> np.ndarray:
    from xtcocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        ev = xtcocotools.COCOeval(gt, gt.loadRes(str(res_path)), iou_type, sigmas=sigmas, use_area=use_area)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats)


def _ours(stats: dict) -> np.ndarray:
    return np.array([stats[k] for k in ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")])


def test_real_coco17_pair_matches_xtcocotools(fixtures_dir):
    folder = fixtures_dir / "xtcocotools_examples"
    gt, res = folder / "example_coco_val.json", folder / "example_coco_preds.json"
    ours = evaluate_files(gt, res)
    assert list(ours.stats) == ["body"]
    np.testing.assert_allclose(_ours(ours.stats["body"]), _reference(gt, res), rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_synthetic_coco17_matches_xtcocotools(tmp_path, seed):
    gt, res = _write(tmp_path, *to_layout(*make_synthetic(seed, SPEC), FORMATS["coco17"]))
    ours = evaluate_files(gt, res).stats["body"]
    assert ours["AP"] > 0.1
    np.testing.assert_allclose(_ours(ours), _reference(gt, res), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["aic14", "mpii16", "halpe26", "halpe136"])
def test_other_layouts_match_xtcocotools_with_their_sigmas(tmp_path, name):
    fmt = FORMATS[name]
    gt, res = _write(tmp_path, *to_layout(*make_synthetic(2, SPEC), fmt))
    evaluation = evaluate_files(gt, res)
    assert evaluation.title == fmt.title
    all_points = "wholebody" if "wholebody" in fmt.eval_parts else "body"
    np.testing.assert_allclose(_ours(evaluation.stats[all_points]), _reference(gt, res, sigmas=fmt.sigmas,
                               use_area=fmt.use_area), rtol=0, atol=1e-12)


def test_crowdpose_matches_keypoints_crowd(tmp_path):
    fmt = FORMATS["crowdpose14"]
    gt_cp, results = to_layout(*make_synthetic(4, SPEC), fmt, seed=4)
    for ann in gt_cp["annotations"][::4]:  # only occluded points (v = 1): CrowdPose ignores the person
        ann["keypoints"][2::3] = [min(v, 1) for v in ann["keypoints"][2::3]]
        ann["num_keypoints"] = 0
    gt, res = _write(tmp_path, gt_cp, results)
    ours = evaluate_files(gt, res).stats["body"]
    reference = _reference(gt, res, "keypoints_crowd", sigmas=fmt.sigmas, use_area=False)
    values = np.array([ours[k] for k in CROWD_ORDER])
    np.testing.assert_allclose(values[:6], reference[:6], rtol=0, atol=1e-12)
    # crowdposetools rounds its easy/medium/hard AP to 4 decimals; ours are not rounded
    np.testing.assert_allclose(values[6:], reference[6:], rtol=0, atol=5e-5 + 1e-12)
    assert len(set(np.round(values[6:], 3))) > 1  # the three classes really differ


def test_wholebody_results_on_coco17_ground_truth(tmp_path):
    """This project's 133-point results scored on COCO-17: xtcocotools reads their 'keypoints'."""
    gt_wb, results = make_synthetic(5, SPEC)
    gt17, _ = to_layout(gt_wb, results, FORMATS["coco17"])
    gt, res = _write(tmp_path, gt17, results)
    ours = evaluate_files(gt, res).stats["body"]
    np.testing.assert_allclose(_ours(ours), _reference(gt, res), rtol=0, atol=1e-12)


def test_points_the_results_lack_are_not_scored(tmp_path):
    """133-point results on CrowdPose: head and neck are left out, as if the file had none."""
    fmt = FORMATS["crowdpose14"]
    gt_wb, results = make_synthetic(6, SPEC)
    gt_cp, _ = to_layout(gt_wb, results, fmt, seed=6)
    gt, res = _write(tmp_path, gt_cp, results)
    ours = evaluate_files(gt, res).stats["body"]
    # Reference: the same ground truth cut to its 12 limb points, results cut the same way.
    cut = json.loads(json.dumps(gt_cp))
    for ann in cut["annotations"]:
        ann["keypoints"] = ann["keypoints"][:36]
    for cat in cut["categories"]:
        cat["keypoints"] = cat["keypoints"][:12]
    cut_results = [{"image_id": r["image_id"], "category_id": r["category_id"], "score": r["score"],
                    "keypoints": r["keypoints"][15:51]} for r in results]
    ref_gt, ref_res = tmp_path / "cut_gt.json", tmp_path / "cut_res.json"
    ref_gt.write_text(json.dumps(cut))
    ref_res.write_text(json.dumps(cut_results))
    reference = _reference(ref_gt, ref_res, "keypoints_crowd", sigmas=fmt.sigmas[:12], use_area=False)
    np.testing.assert_allclose([ours[k] for k in CROWD_ORDER[:6]], reference[:6], rtol=0, atol=1e-12)
    # The evaluator called on the full 14-point arrays leaves the two points out by itself.
    full_gt = load_keypoint_ground_truth(gt)
    direct = evaluate(full_gt, load_keypoint_results(res, full_gt)).stats["body"]
    np.testing.assert_allclose([direct[k] for k in CROWD_ORDER], [ours[k] for k in CROWD_ORDER], rtol=0, atol=1e-12)


def _gt_with_category(names, count):
    record = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 50.0, "iscrowd": 0,
              "keypoints": [1.0, 1.0, 2] * count}
    category = {"id": 1, "name": "person", **({"keypoints": names} if names is not None else {})}
    return {"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [record], "categories": [category]}


@pytest.mark.parametrize("name", ["coco17", "crowdpose14", "aic14", "mpii16", "halpe26", "halpe136"])
def test_layout_read_from_the_category_names(name):
    layout = FORMATS[name].layout
    assert load_keypoint_ground_truth(_gt_with_category(list(layout.keypoints), layout.num_keypoints)).format.name == name


def test_head_top_synonyms_still_tell_aic_from_crowdpose():
    names = [n.replace("head_top", "Head").replace("_", " ") for n in FORMATS["aic14"].layout.keypoints]
    assert load_keypoint_ground_truth(_gt_with_category(names, 14)).format.name == "aic14"


def test_layout_from_the_count_when_names_are_absent():
    assert load_keypoint_ground_truth(_gt_with_category(None, 16)).format.name == "mpii16"
    assert load_keypoint_ground_truth(_gt_with_category(None, 14), layout="aic").format.name == "aic14"


def test_unrecognised_layout_names_file_category_count_and_layouts(tmp_path):
    path = tmp_path / "mystery.json"
    path.write_text(json.dumps(_gt_with_category([f"p{i}" for i in range(14)], 14)))
    with pytest.raises(AnnotationError) as err:
        load_keypoint_ground_truth(path)
    message = str(err.value)
    for expected in (str(path), "'person'", "14 keypoints", "--layout", *FORMATS):
        assert expected in message


def test_empty_results_score_zero(tmp_path):
    gt, _ = to_layout(*make_synthetic(0, SyntheticSpec(n_images=5)), FORMATS["crowdpose14"])
    gt_path, res_path = _write(tmp_path, gt, [])
    stats = evaluate_files(gt_path, res_path).stats["body"]
    assert stats["AP"] == 0.0 and stats["AR"] == 0.0


def test_wholebody_file_with_one_flat_block(fixtures_dir):
    gt = load_keypoint_ground_truth(fixtures_dir / "coco_wholebody" / "test_keypoint_partition_metric.json")
    assert gt.format.name == "coco_wholebody" and gt.keypoints.shape[1:] == (133, 3)


def test_predict_coco_reads_only_images(tmp_path):
    gt, _ = to_layout(*make_synthetic(0, SyntheticSpec(n_images=3)), FORMATS["crowdpose14"])
    path = tmp_path / "crowdpose.json"
    path.write_text(json.dumps({"images": gt["images"], "annotations": [{"bogus": True}]}))
    assert sorted(read_image_list(path)) == sorted(img["id"] for img in gt["images"])


def test_cli_eval_on_coco17_and_a_bad_layout(fixtures_dir):
    folder = fixtures_dir / "xtcocotools_examples"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "wholebody", "eval", str(folder / "example_coco_val.json"),
           str(folder / "example_coco_preds.json")]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "COCO-17" in done.stdout and "0.861" in done.stdout
    bad = subprocess.run(cmd + ["--layout", "crowdpose"], capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and "crowdpose14 has 14 points" in bad.stderr and "Traceback" not in bad.stderr
