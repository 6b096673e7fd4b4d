"""Error diagnosis: hand-built scenes where each error type is made on purpose, and the fixes.

Scene (body part, person area 10000 px^2): people A and B in image 1, C in image 2.  The
result for A copies A's points except: left wrist (9) moved to KS 0.7 (jitter), left elbow (7)
put on A's right elbow (inversion), left ankle (15) put on B's left ankle (swap), left knee
(13) thrown far away (miss).  B's result is exact; one more result lies far from everybody
(background FP, best score); nobody answers C (false negative).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from wholebody.data.cocowb import load_ground_truth, load_results, result_entry, split_blocks
from wholebody.eval.analysis import KEYPOINT_CLASSES, classify_part, keypoint_similarity
from wholebody.eval.analysis_fixes import STEPS, analyze_part, fixed_inputs
from wholebody.eval.cocoeval import PART_POINTS
from wholebody.schema import PART_SLICES, SIGMAS

AREA = 10000.0
JITTER, INVERSION, SWAP, MISS = 9, 7, 15, 13


def _body(ox: float, oy: float = 100.0) -> np.ndarray:
    """A person whose 17 body points sit on a 40 px grid (no two points within KS 0.5)."""
    points = np.zeros((133, 3))
    k = np.arange(17)
    points[:17, 0] = ox + 40.0 * (k % 5)
    points[:17, 1] = oy + 40.0 * (k // 5)
    points[:17, 2] = 2
    return points


def _hands(points: np.ndarray, ox: float) -> np.ndarray:
    """Add both hands on 15 px grids, the right hand 200 px right of the left one."""
    j = np.arange(21)
    for start, shift in ((PART_SLICES["lefthand"].start, 0.0), (PART_SLICES["righthand"].start, 200.0)):
        points[start:start + 21, 0] = ox + shift + 15.0 * (j % 7)
        points[start:start + 21, 1] = 400.0 + 15.0 * (j // 7)
        points[start:start + 21, 2] = 2
    return points


def _gt(people: list[tuple[int, np.ndarray]]):
    annotations = [
        {"id": i + 1, "image_id": image, "category_id": 1, "iscrowd": 0, "area": AREA,
         "bbox": [float(p[:, 0][p[:, 2] > 0].min()), 100.0, 400.0, 400.0], **split_blocks(p)}
        for i, (image, p) in enumerate(people)
    ]
    images = sorted({image for image, _ in people} | {1, 2})
    return load_ground_truth({"images": [{"id": i} for i in images], "annotations": annotations,
                              "categories": [{"id": 1, "name": "person"}]})


def _results(gt, entries: list[tuple[int, np.ndarray, float]]):
    scored = []
    for image, points, score in entries:
        points = points.copy()
        points[:, 2] = np.where(points[:, 2] > 0, 0.9, 0.0)
        scored.append(result_entry(image, points, score))
    return load_results(scored, gt=gt)


def _jitter_distance(k: int, ks: float) -> float:
    """Pixel distance giving similarity ``ks`` for point k: d = 2 sigma sqrt(2 A (-ln ks))."""
    return 2 * SIGMAS[k] * math.sqrt(2 * AREA * -math.log(ks))


@pytest.fixture()
def body_scene():
    a, b, c = _body(100.0), _body(500.0), _body(100.0)
    gt = _gt([(1, a), (1, b), (2, c)])
    guess = a.copy()
    guess[JITTER, 0] += _jitter_distance(JITTER, 0.7)
    guess[INVERSION, :2] = a[INVERSION + 1, :2]
    guess[SWAP, :2] = b[SWAP, :2]
    guess[MISS, :2] = (120.0, 900.0)
    far = _body(2000.0, 2000.0)
    res = _results(gt, [(1, guess, 0.9), (1, b, 0.8), (1, far, 0.95)])
    return gt, res


def test_keypoint_similarity_formula():
    ks = keypoint_similarity([3.0, 4.0], [0.0, 0.0], AREA, 0.05)
    assert ks == pytest.approx(math.exp(-25.0 / (2 * AREA * 0.1**2)))
    moved = [_jitter_distance(JITTER, 0.7), 0.0]
    assert keypoint_similarity(moved, [0.0, 0.0], AREA, SIGMAS[JITTER]) == pytest.approx(0.7)


def test_each_error_type_is_classified(body_scene):
    gt, res = body_scene
    d = classify_part(gt, res, "body")
    assert d.matched_gt.tolist() == [0, 1, -1]
    names = [KEYPOINT_CLASSES[c] for c in d.labels[0]]
    assert names[JITTER] == "jitter" and names[INVERSION] == "inversion"
    assert names[SWAP] == "swap" and names[MISS] == "miss"
    assert names.count("good") == 13
    assert set(KEYPOINT_CLASSES[c] for c in d.labels[1]) == {"good"}
    assert (d.labels[2] == -1).all()
    counts = d.counts()
    assert counts == {"good": 30, "jitter": 1, "inversion": 1, "swap": 1, "miss": 1, "matched_results": 2,
                      "ignored_results": 0, "background_fp": 1, "false_negatives": 1}
    assert d.false_negative.tolist() == [False, False, True]


def test_fixes_are_cumulative_and_move_points_onto_gt(body_scene):
    gt, res = body_scene
    d = classify_part(gt, res, "body")
    steps = {name: (g, r) for name, g, r in fixed_inputs(gt, res, d)}
    assert tuple(steps) == STEPS
    jitter = steps["jitter"][1].keypoints[0]
    np.testing.assert_array_equal(jitter[JITTER, :2], gt.keypoints[0, JITTER, :2])
    np.testing.assert_array_equal(jitter[INVERSION, :2], res.keypoints[0, INVERSION, :2])  # not fixed yet
    swap = steps["swap"][1].keypoints[0]
    np.testing.assert_array_equal(swap[[JITTER, INVERSION, SWAP], :2], gt.keypoints[0, [JITTER, INVERSION, SWAP], :2])
    np.testing.assert_array_equal(steps["miss"][1].keypoints[0, :17, :2], gt.keypoints[0, :17, :2])
    assert (steps["background_fp"][1].keypoints[2, :17, 2] == 0).all()
    assert (steps["false_negatives"][0].keypoints[2, :17, 2] == 0).all()
    assert res.keypoints[0, JITTER, 0] != gt.keypoints[0, JITTER, 0]  # the input is untouched


def test_ap_after_each_fix_by_hand(body_scene):
    """At OKS 0.75 both real results are true positives (A's OKS ~0.81); ranking FP, A, B gives
    precision 0, 1/2, 2/3 at recall 0, 1/3, 2/3: the envelope is 2/3 on the 67 recall points
    <= 2/3.  Removing the FP makes it 1 there; removing C as well gives AP 1."""
    gt, res = body_scene
    analysis = analyze_part(gt, res, "body", pr_oks=0.75)
    at_075 = {s.name: s.ap_at_oks for s in analysis.steps}
    for name in ("original", "jitter", "inversion", "swap", "miss"):
        assert at_075[name] == pytest.approx(67 * (2 / 3) / 101)
    assert at_075["background_fp"] == pytest.approx(67 / 101)
    assert at_075["false_negatives"] == pytest.approx(1.0)
    assert analysis.steps[-1].stats["AP"] == pytest.approx(1.0)  # every point is exact after the fixes
    assert analysis.steps[0].stats["AP"] < analysis.steps[4].stats["AP"]


def test_hand_inversion_uses_the_other_hand_and_ignored_people():
    """A left-hand point put on the right hand of the same person is an inversion; a result for
    a person without hand labels is 'ignored', neither matched nor a background FP."""
    a = _hands(_body(100.0), 100.0)
    e = _body(800.0)  # body only: ignored in the hand parts
    gt = _gt([(1, a), (1, e)])
    guess = a.copy()
    left5 = PART_SLICES["lefthand"].start + 5
    guess[left5, :2] = a[PART_SLICES["righthand"].start + 5, :2]
    e_guess = _hands(e.copy(), 800.0)
    res = _results(gt, [(1, guess, 0.9), (1, e_guess, 0.8)])
    d = classify_part(gt, res, "lefthand")
    assert KEYPOINT_CLASSES[d.labels[0, 5]] == "inversion"
    counts = d.counts()
    assert counts["inversion"] == 1 and counts["good"] == 20
    assert counts["ignored_results"] == 1 and counts["background_fp"] == 0 and counts["false_negatives"] == 0


def test_unknown_pr_threshold_is_rejected(body_scene):
    gt, res = body_scene
    with pytest.raises(ValueError, match="PR curves exist only at OKS"):
        analyze_part(gt, res, "body", pr_oks=0.72)


def test_cli_on_the_xtcocotools_example(fixtures_dir, tmp_path):
    """The CLI writes summary.json and PNGs; step 'original' is the evaluator's AP (checked
    against the stored xtcocotools numbers) and fixing everything gives AP 1 at OKS 0.75."""
    import json
    import subprocess
    import sys

    examples = fixtures_dir / "xtcocotools_examples"
    out = tmp_path / "analysis"
    done = subprocess.run(
        [sys.executable, "-m", "wholebody", "analyze", str(examples / "example_wholebody_val.json"),
         str(examples / "example_wholebody_preds.json"), "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "AP at OKS 0.75" in done.stdout
    summary = json.loads((out / "summary.json").read_text())
    expected = json.loads((examples / "expected_stats_xtcocotools-1.14.3.json").read_text())
    gt = load_ground_truth(examples / "example_wholebody_val.json")
    for part, report in summary["parts"].items():
        steps = {s["name"]: s for s in report["steps"]}
        assert tuple(steps) == STEPS
        assert steps["original"]["AP"] == pytest.approx(expected[f"keypoints_{part}"][0], abs=1e-12)
        assert steps["false_negatives"]["AP@0.75"] == pytest.approx(1.0)
        counts = report["counts"]
        labelled = (gt.keypoints[:, PART_POINTS[part], 2] > 0).any(axis=1)
        assert counts["matched_results"] + counts["false_negatives"] == int((labelled & ~gt.iscrowd).sum())
        png = out / f"pr_{part}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert (out / "pr_all.png").is_file()
    budget = summary["wholebody_ap_with_perfect"]
    assert budget["original"] == pytest.approx(expected["keypoints_wholebody"][0], abs=1e-12)
    assert set(budget) == {"original", "perfect_body", "perfect_face", "perfect_hands"}
    assert "with perfect body" in done.stdout


def test_wholebody_budget_names_the_part_that_limits_ap():
    """Two people with exact bodies and no face labels; the results' hands are 40 px off.  A
    perfect-hands copy scores AP 1, a perfect body changes nothing; the input is not modified."""
    from wholebody.eval.analysis_budget import wholebody_budget, with_perfect_parts
    from wholebody.eval.analysis import match_part

    a, b = _hands(_body(100.0), 100.0), _hands(_body(900.0), 900.0)
    gt = _gt([(1, a), (2, b)])
    guesses = []
    for person in (a, b):
        guess = person.copy()
        guess[PART_SLICES["lefthand"].start:PART_SLICES["righthand"].stop, 1] += 40.0
        guesses.append(guess)
    res = _results(gt, [(1, guesses[0], 0.9), (2, guesses[1], 0.8)])
    before = res.keypoints.copy()
    budget = wholebody_budget(gt, res)
    assert budget["original"] < 0.5
    assert budget["perfect_hands"] == pytest.approx(1.0)
    assert budget["perfect_body"] == pytest.approx(budget["original"])
    np.testing.assert_array_equal(res.keypoints, before)
    matched = match_part(gt, res, "wholebody")[0]
    fixed = with_perfect_parts(gt, res, matched, ("lefthand",))
    left = PART_SLICES["lefthand"]
    np.testing.assert_array_equal(fixed.keypoints[:, left, :2], gt.keypoints[matched][:, left, :2])
    np.testing.assert_array_equal(fixed.keypoints[:, PART_SLICES["righthand"]], before[:, PART_SLICES["righthand"]])


def test_cli_reports_bad_input(tmp_path, capsys):
    from wholebody.cli.main import main

    missing = tmp_path / "nope.json"
    assert main(["analyze", str(missing), str(missing), "--out", str(tmp_path / "o")]) == 2  # as `eval`
    assert f"wholebody analyze: {missing}: cannot read file" in capsys.readouterr().err
    assert main(["analyze", str(missing), str(missing), "--out", str(tmp_path / "o"), "--pr-oks", "0.72"]) == 2
    assert "wholebody analyze: --pr-oks must be one of" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("n_categories", [1, 2])
def test_matching_is_the_evaluators(n_categories):
    """At an evaluator threshold, results matched to regular people are exactly its true
    positives: recall x regular people, on a seeded synthetic set with crowds, unlabelled
    parts, > 20 results per image and (here) two categories (the evaluator reports the first)."""
    from wholebody.eval.analysis import match_part
    from wholebody.eval.cocoeval import evaluate
    from wholebody.eval.synthetic import SyntheticSpec, make_synthetic

    gt_dict, res_list = make_synthetic(3, SyntheticSpec(n_images=40, n_categories=n_categories))
    gt = load_ground_truth(gt_dict)
    res = load_results(res_list, gt=gt)
    ev = evaluate(gt, res)
    first = min(c["id"] for c in gt_dict["categories"])
    for part in PART_POINTS:
        for t, oks in ((0, 0.5), (5, 0.75)):
            matched, _, dt_ignored, gt_ignored = match_part(gt, res, part, oks)
            regular = int(np.count_nonzero(~gt_ignored & (gt.category_ids == first)))
            true_positives = np.count_nonzero((matched >= 0) & ~dt_ignored & (res.category_ids == first))
            assert true_positives == pytest.approx(ev.recall[part][t, 0] * regular), (part, oks)
