"""Error analysis on other layouts: COCO-17, and CrowdPose scored with 133-point results."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from wholebody.data.keypoint_files import load_keypoint_ground_truth, load_keypoint_results, restrict_to_scored
from wholebody.eval.analysis_fixes import analyze
from wholebody.eval.cocoeval import evaluate_files
from wholebody.eval.synthetic import SyntheticSpec, make_synthetic
from wholebody.eval.synthetic_layouts import to_layout
from wholebody.schema.formats import FORMATS

SPEC = SyntheticSpec(n_images=20)


def _files(tmp_path, gt, results):
    paths = tmp_path / "gt.json", tmp_path / "res.json"
    paths[0].write_text(json.dumps(gt))
    paths[1].write_text(json.dumps(results))
    return paths


@pytest.mark.parametrize("name", ["coco17", "aic14"])
def test_analysis_steps_on_one_block_layouts(tmp_path, name):
    gt_path, res_path = _files(tmp_path, *to_layout(*make_synthetic(1, SPEC), FORMATS[name]))
    gt = load_keypoint_ground_truth(gt_path)
    analysis = analyze(gt, load_keypoint_results(res_path, gt), pr_oks=0.75)["body"]
    assert analysis.steps[0].stats["AP"] == evaluate_files(gt_path, res_path).stats["body"]["AP"]
    assert analysis.steps[-1].ap_at_oks == pytest.approx(1.0)  # every error fixed
    assert analysis.diagnosis.labels.shape[1] == FORMATS[name].num_keypoints


def test_analysis_of_mapped_results_uses_the_points_they_have(tmp_path):
    """133-point results on CrowdPose: head and neck are cut, as the evaluator leaves them out."""
    gt_wb, results = make_synthetic(2, SPEC)
    gt_cp, _ = to_layout(gt_wb, results, FORMATS["crowdpose14"], seed=2)
    gt_path, res_path = _files(tmp_path, gt_cp, results)
    gt = load_keypoint_ground_truth(gt_path)
    gt_cut, res_cut = restrict_to_scored(gt, load_keypoint_results(res_path, gt))
    assert gt_cut.format.layout.keypoints == FORMATS["crowdpose14"].layout.keypoints[:12]
    assert len(gt_cut.format.layout.flip_pairs) == 6
    analysis = analyze(gt_cut, res_cut)["body"]
    expected = evaluate_files(gt_path, res_path).stats["body"]
    for key in ("AP", "AR", "APeasy", "APhard"):
        assert analysis.steps[0].stats[key] == pytest.approx(expected[key], abs=1e-12)


def test_cli_analyze_on_coco17(fixtures_dir, tmp_path):
    folder = fixtures_dir / "xtcocotools_examples"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-m", "wholebody", "analyze", str(folder / "example_coco_val.json"),
                           str(folder / "example_coco_preds.json"), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=180)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert list(summary["parts"]) == ["body"]
    assert np.isclose(summary["parts"]["body"]["steps"][0]["AP"], 0.86088961, atol=1e-8)
