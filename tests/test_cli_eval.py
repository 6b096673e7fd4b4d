"""`wholebody eval`: the table, the --json output and clean errors, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from wholebody.eval.cocoeval import STAT_NAMES
from wholebody.schema import EVAL_PARTS

ROWS = ["body", "foot", "face", "left hand", "right hand", "whole-body"]


def _run(*args, cwd=None):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "wholebody", "eval", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120)


@pytest.fixture(scope="module")
def example_pair(fixtures_dir):
    folder = fixtures_dir / "xtcocotools_examples"
    expected = json.loads((folder / "expected_stats_xtcocotools-1.14.3.json").read_text())
    return folder / "example_wholebody_val.json", folder / "example_wholebody_preds.json", expected


def test_table_and_json_output(example_pair, tmp_path):
    gt, res, expected = example_pair
    out = tmp_path / "stats" / "example.json"
    proc = _run(gt, res, "--json", out)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["part"])
    assert lines[header].split() == ["part", "AP", "AR"]
    rows = lines[header + 2: header + 2 + len(ROWS)]
    for title, line, part in zip(ROWS, rows, EVAL_PARTS):
        assert line.startswith(title)
        ap, ar = (float(x) for x in line[len(title):].split())
        assert ap == pytest.approx(expected[f"keypoints_{part}"][0], abs=5e-4)
        assert ar == pytest.approx(expected[f"keypoints_{part}"][5], abs=5e-4)
    written = json.loads(out.read_text())
    assert list(written) == list(EVAL_PARTS)
    for part in EVAL_PARTS:
        assert list(written[part]) == list(STAT_NAMES)
        assert list(written[part].values()) == pytest.approx(expected[f"keypoints_{part}"], abs=1e-12)
    assert sorted(p.name for p in out.parent.iterdir()) == ["example.json"]  # no temp file left behind


def test_full_flag_shows_all_ten_stats(example_pair):
    gt, res, _ = example_pair
    proc = _run(gt, res, "--full", "--parts", "face", "wholebody")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if line.startswith("part"))
    assert header.split() == ["part", *STAT_NAMES]
    assert [line.split()[0] for line in lines if line.startswith(("face", "whole-body"))] == ["face", "whole-body"]


def test_rescore_and_oks_nms_flags_run(example_pair, tmp_path):
    gt, res, _ = example_pair
    out = tmp_path / "post.json"
    proc = _run(gt, res, "--rescore", "--oks-nms", "--json", out)
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(out.read_text())
    assert all(0.0 <= stats[part]["AP"] <= 1.0 for part in EVAL_PARTS)


@pytest.mark.parametrize("content, words", [
    ('[{"image_id": 785, "category_id": 1, "score": 0.9}]', ["record 0", "keypoints"]),
    ('[{"image_id": 123456789, "category_id": 1, "score": 1}]', ["record 0", "image_id"]),
    ("{not json", ["not valid JSON"]),
])
def test_malformed_results_fail_cleanly(example_pair, tmp_path, content, words):
    gt, _, _ = example_pair
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    out = tmp_path / "never.json"
    proc = _run(gt, bad, "--json", out)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert str(bad) in proc.stderr
    for word in words:
        assert word in proc.stderr
    assert not out.exists()


def test_missing_ground_truth_file_fails_cleanly(example_pair, tmp_path):
    _, res, _ = example_pair
    proc = _run(tmp_path / "absent.json", res)
    assert proc.returncode != 0
    assert "absent.json" in proc.stderr and "Traceback" not in proc.stderr
