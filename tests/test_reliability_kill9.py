"""What ``kill -9`` leaves in ``--out`` is cleaned up by the next run into the folder: the 3D
plots of a killed ``--plot3d`` run (listed in the manifest before they are written) and the
``.shards-<pid>`` scratch folders of a killed ``--workers`` run (only ours: our naming, and a
process id that is no longer alive)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import orjson
import pytest
from PIL import Image

import wholebody.cli.predict as predict_cli
from fake_estimator import FakeEstimator
from wholebody.cli.main import main
from wholebody.predict.outdir import MANIFEST_NAME, remove_stale_temporaries

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent

# The real CLI with a fake estimator that is quick on the first images and then hangs, so the
# test can kill the run while its plots are written or after they were.
HANGS_AFTER_TWO = """
import sys
sys.path.insert(0, {tests!r})
import wholebody.cli.predict as predict
from fake_estimator import StallingEstimator
predict.load_estimator = lambda model_path, **options: StallingEstimator(stall_at=3)
from wholebody.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def _people_images(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(count):
        image = np.zeros((120, 100, 3), np.uint8)
        image[10:110, 20:80] = 255
        paths.append(folder / f"img{k:02d}.png")
        Image.fromarray(image).save(paths[-1])
    return paths


def _wait_for(condition, process: subprocess.Popen, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"the run never {what}"
        time.sleep(0.05)


@pytest.fixture()
def fake_predict(monkeypatch):
    monkeypatch.setattr(predict_cli, "load_estimator", lambda model_path, **options: FakeEstimator())
    return lambda *args: main(["predict", *map(str, args), "-q"])


def test_plots_of_a_killed_plot3d_run_are_listed_and_removed_by_the_next_run(tmp_path, fake_predict):
    inputs, out = tmp_path / "in", tmp_path / "out"
    _people_images(inputs, 6)
    script = HANGS_AFTER_TWO.format(tests=str(TESTS))
    process = subprocess.Popen([sys.executable, "-c", script, "predict", str(inputs), "--out", str(out), "-q",
                                "--plot3d", "--no-overlay"], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: len(list((out / "plots3d").glob("*.png"))) >= 2, process, "wrote two plots")
    finally:
        process.kill()
        process.communicate(timeout=60)
    plots = sorted(p.relative_to(out).as_posix() for p in (out / "plots3d").glob("*.png"))
    manifest = out / MANIFEST_NAME
    listed = orjson.loads(manifest.read_bytes())["files"] if manifest.exists() else []
    assert set(plots) <= set(listed)  # the fault: plots were listed only when the run ended

    other = tmp_path / "other"
    _people_images(other, 1)
    assert fake_predict(other, "--out", out, "--no-overlay") == 0
    assert list((out / "plots3d").glob("*.png")) == []  # overlays/plots match results.json again


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_next_run_removes_scratch_folders_of_dead_workers_runs_only(tmp_path, fake_predict):
    out = tmp_path / "out"
    # a live process the test owns (the parent of pytest may exit while a detached run goes on)
    living = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    dead, alive = _dead_pid(), living.pid
    for name in (f".shards-{dead}/0", f".shards-{alive}/0", ".shards-mine/0", f"shards-{dead}/0"):
        (out / name).mkdir(parents=True)
        (out / name / "results.json").write_text("[]")
    (out / f".shards-{dead}x").write_text("a file, not our folder")
    inputs = tmp_path / "in"
    _people_images(inputs, 1)
    try:
        assert fake_predict(inputs, "--out", out, "--no-overlay") == 0
    finally:
        living.kill()
        living.wait()
    left = sorted(p.name for p in out.iterdir() if p.name.startswith((".shards", "shards")))
    assert left == [f".shards-{alive}", f".shards-{dead}x", ".shards-mine", f"shards-{dead}"]


def test_a_killed_workers_run_leaves_nothing_after_the_next_run(tmp_path):
    pytest.importorskip("cv2")
    inputs, out = tmp_path / "in", tmp_path / "out"
    _people_images(inputs, 12)
    script = HANGS_AFTER_TWO.format(tests=str(TESTS)).replace(
        "predict.load_estimator = lambda model_path, **options: StallingEstimator(stall_at=3)",
        "from fake_loader import load_slow_fake_estimator\npredict.load_estimator = load_slow_fake_estimator")
    process = subprocess.Popen([sys.executable, "-c", script, "predict", str(inputs), "--out", str(out), "-q",
                                "--workers", "2", "--no-overlay"], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"),
                               start_new_session=True)
    try:
        _wait_for(lambda: len(list(out.glob(".shards-*/*"))) >= 2, process, "started its workers")
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the parent and its workers, as the OOM killer might
        process.communicate(timeout=60)
    assert list(out.glob(".shards-*"))  # the debris
    assert remove_stale_temporaries(out)  # what the next run does first, with the lock held
    assert list(out.glob(".shards-*")) == []
