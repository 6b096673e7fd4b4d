"""``predict --workers N``: sharded in order over N processes, merged into exactly the one-process outputs."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import orjson
import pytest
from PIL import Image

from wholebody.predict.plan import plan_from_inputs
from wholebody.predict.runner import RunOptions
from wholebody.predict.workers import OutputSettings, _run_shard, run_sharded, shard

cv2 = pytest.importorskip("cv2")
TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
from fake_estimator import FakeEstimator  # noqa: E402

OUTPUTS = ("results.json", "results_3d.json", "images.json")
RUN_WITH_FAKE = """
import sys
sys.path.insert(0, {tests!r})
import wholebody.cli.predict as predict
from fake_loader import load_fake_estimator
predict.load_estimator = load_fake_estimator
from wholebody.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def _inputs(folder: Path) -> Path:
    """Images with 0-2 bright 'people', an unreadable image, and a short video between them."""
    folder.mkdir()
    rng = np.random.default_rng(3)
    for k in range(5):
        image = np.zeros((120, 160, 3), np.uint8)
        for _ in range(k % 3):
            x, y = rng.integers(0, 100), rng.integers(0, 40)
            image[y:y + 70, x:x + 30] = 255
        Image.fromarray(image).save(folder / f"img{k}.png")
    (folder / "img2b.jpg").write_text("not an image")
    writer = cv2.VideoWriter(str(folder / "img3_clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for k in range(4):
        frame = np.zeros((120, 160, 3), np.uint8)
        frame[20:90, 10 + 8 * k:40 + 8 * k] = 255
        writer.write(frame)
    writer.release()
    return folder


def _outputs(folder: Path) -> dict:
    found = {name: orjson.loads((folder / name).read_bytes()) for name in OUTPUTS}
    found["files"] = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return found


def test_shards_are_contiguous_balanced_and_in_order():
    items = list(range(7))
    assert shard(items, 3) == [[0, 1, 2], [3, 4], [5, 6]]
    assert shard(items, 10) == [[k] for k in items]
    assert shard(items, 1) == [items]


@pytest.mark.parametrize("fixed_ids", [False, True])
def test_any_number_of_workers_writes_the_one_process_outputs(tmp_path, fixed_ids):
    items = plan_from_inputs([_inputs(tmp_path / "in")])
    assert [item.source.kind for item in items].count("video") == 1
    if fixed_ids:  # --coco style: images keep given ids, video frames are numbered above them
        items = [replace(item, image_id=100 - 7 * k) if item.source.kind != "video" else item
                 for k, item in enumerate(items)]
    options, settings = RunOptions(threads=1), OutputSettings(output_format="openpose")
    single = _run_shard(items, FakeEstimator, str(tmp_path / "one"), options, settings)
    expected = _outputs(tmp_path / "one")
    assert "overlays/img3_clip.mp4" in expected["files"] and single.summary.frames == 4
    assert any("openpose/img3_clip_json/" in name for name in expected["files"])
    for workers in (1, 2, 3):
        out = tmp_path / f"workers{workers}"
        reports = []
        summary, write_failures = run_sharded(items, workers, FakeEstimator, out, options, settings,
                                              lambda where, why: reports.append(where))
        assert _outputs(out) == expected, workers
        assert summary == single.summary and write_failures == []
        assert reports == [where for where, _ in single.reports] and len(reports) == 1  # the bad image


def test_cli_workers_flag_matches_one_process(tmp_path):
    data = _inputs(tmp_path / "in")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    script = RUN_WITH_FAKE.format(tests=str(TESTS))
    runs = {}
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}"
        done = subprocess.run([sys.executable, "-c", script, "predict", str(data), "--out", str(out), "--workers",
                               workers, "--no-overlay"], capture_output=True, text=True, env=env, timeout=180)
        assert done.returncode == 1, done.stderr  # the unreadable image
        assert "img2b.jpg: not an image" in done.stderr and "1 failed" in done.stdout
        runs[workers] = _outputs(out)
    assert runs["1"] == runs["2"] and not any(".shards" in name for name in runs["2"]["files"])
    bad = subprocess.run([sys.executable, "-c", script, "predict", str(data), "--workers", "0"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "--workers" in bad.stderr


def test_ctrl_c_with_workers_leaves_no_results_and_no_shard_folders(tmp_path):
    import signal
    import time

    data = tmp_path / "in"
    data.mkdir()
    for k in range(20):
        Image.fromarray(np.full((60, 80, 3), 255 * (k % 2), np.uint8)).save(data / f"img{k:02d}.png")
    out = tmp_path / "out"
    script = RUN_WITH_FAKE.format(tests=str(TESTS)).replace("load_fake_estimator", "load_slow_fake_estimator")
    process = subprocess.Popen([sys.executable, "-c", script, "predict", str(data), "--out", str(out), "--workers",
                                "2", "--no-overlay"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, OMP_NUM_THREADS="1"), start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list(out.glob(".shards-*/*"))) < 2:
            time.sleep(0.1)  # both workers have started writing
        time.sleep(0.5)
        os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the workers get it too
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130 and "Traceback" not in stderr and "interrupted" in stderr
    assert sorted(p.name for p in out.iterdir()) == []  # no results, no shard folders
