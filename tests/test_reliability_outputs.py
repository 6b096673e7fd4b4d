"""The --out folder of ``wholebody predict`` under signals, full disks and concurrent runs.

SIGTERM mid-run is handled like Ctrl-C (temporary files removed, one message, status 143);
the debris of a ``kill -9`` is removed by the next run (our naming only); a second run into a
locked folder is refused naming the folder and the other process; a full disk is
``PATH: no space left on device`` with status 1 and earlier results kept; overlays of earlier
runs that are ours (listed in the manifest) are removed so overlays/ matches results.json.
"""

from __future__ import annotations

import errno
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
from wholebody.data.folder_lock import LOCK_NAME, OutputFolderLock

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent

# The real CLI in a subprocess, with a fake estimator that marks its first call and then takes
# its time, so the test knows the run is under way when it sends a signal.
SLOW_FAKE = """
import pathlib, sys, time
sys.path.insert(0, {tests!r})
import wholebody.cli.predict as predict
from fake_estimator import FakeEstimator
class Slow(FakeEstimator):
    def __call__(self, image, person_boxes=None, person_scores=None):
        people = super().__call__(image, person_boxes, person_scores)
        pathlib.Path({marker!r}).touch()
        time.sleep(0.25)
        return people
predict.load_estimator = lambda model_path, **options: Slow()
from wholebody.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def _people_images(folder: Path, count: int, people: int = 2) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(count):
        image = np.zeros((200, 80 * people + 20, 3), np.uint8)
        for p in range(people):
            image[20:180, 20 + 80 * p:80 + 80 * p] = 255
        paths.append(folder / f"img{k:02d}.png")
        Image.fromarray(image).save(paths[-1])
    return paths


def _temporaries(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.name.startswith(".") and
                  (p.name.endswith(".tmp") or p.suffix == ".mp4"))


@pytest.fixture()
def fake_predict(monkeypatch):
    monkeypatch.setattr(predict_cli, "load_estimator", lambda model_path, **options: FakeEstimator())
    return lambda *args: main(["predict", *map(str, args), "-q"])


def _start_slow_run(tmp_path: Path, inputs: Path, out: Path) -> subprocess.Popen:
    marker = tmp_path / "estimating"
    script = SLOW_FAKE.format(tests=str(TESTS), marker=str(marker))
    process = subprocess.Popen([sys.executable, "-c", script, "predict", str(inputs), "--out", str(out), "-q"],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never reached the estimator"
        time.sleep(0.05)
    time.sleep(0.3)  # a few results streamed, an overlay or two written
    return process


def test_sigterm_mid_run_removes_temporaries_and_exits_143(tmp_path):
    inputs, out = tmp_path / "in", tmp_path / "out"
    _people_images(inputs, 20)
    out.mkdir()
    (out / "results.json").write_text("[]")  # an earlier run's results
    process = _start_slow_run(tmp_path, inputs, out)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143, err
    assert "wholebody predict: terminated (SIGTERM); no results written" in err and "Traceback" not in err
    assert _temporaries(out) == []
    assert (out / "results.json").read_text() == "[]"
    assert not (out / LOCK_NAME).exists()


def test_the_next_run_removes_what_kill_9_left_and_only_that(tmp_path, fake_predict):
    inputs, out = tmp_path / "in", tmp_path / "out"
    _people_images(inputs, 20)
    process = _start_slow_run(tmp_path, inputs, out)
    process.kill()
    process.communicate(timeout=60)
    left = _temporaries(out)
    assert ".results.json" in " ".join(left), left  # the fault: kill -9 leaves hidden partial files
    assert (out / LOCK_NAME).exists()  # and a lock file whose owner is dead
    theirs = [out / "notes.tmp", out / ".results.json.backup", out / "overlays" / ".mine.png"]
    for path in theirs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("the user's")
    (out / "overlays" / ".clip.a1b2c3d4.mp4").write_bytes(b"partial video of ours")

    one = tmp_path / "one"
    _people_images(one, 1)
    assert fake_predict(one, "--out", out) == 0  # the dead run's lock is taken over
    assert _temporaries(out) == []
    assert all(path.read_text() == "the user's" for path in theirs)
    # overlays the killed run wrote for its 20 images are gone: overlays/ matches results.json
    assert sorted(p.name for p in (out / "overlays").iterdir()) == [".mine.png", "img00.png"]


def test_a_second_run_into_a_busy_folder_is_refused(tmp_path, fake_predict, capsys):
    inputs, out = tmp_path / "in", tmp_path / "out"
    _people_images(inputs, 1)
    with OutputFolderLock(out):  # this process is the first run
        script = SLOW_FAKE.format(tests=str(TESTS), marker=str(tmp_path / "never"))
        done = subprocess.run([sys.executable, "-c", script, "predict", str(inputs), "--out", str(out), "-q"],
                              cwd=REPO, capture_output=True, text=True, timeout=120)
        assert done.returncode == 1
        assert done.stderr.strip() == (f"wholebody predict: {out}: another wholebody run (process {os.getpid()}) "
                                       "is writing to this folder; wait for it or choose another --out")
        assert not (out / "results.json").exists()
    (out / LOCK_NAME).write_text("999999\n")  # left by a process that died: no flock held on it
    assert fake_predict(inputs, "--out", out) == 0
    assert len(orjson.loads((out / "results.json").read_bytes())) == 2


def test_overlays_of_earlier_runs_are_removed_but_not_the_users(tmp_path, fake_predict):
    inputs, out = tmp_path / "in", tmp_path / "out"
    paths = _people_images(inputs, 3)
    assert fake_predict(inputs, "--out", out) == 0
    assert sorted(p.name for p in (out / "overlays").iterdir()) == ["img00.png", "img01.png", "img02.png"]
    (out / "overlays" / "mine.png").write_bytes(b"the user's own file")
    assert fake_predict(paths[1], "--out", out) == 0
    assert sorted(p.name for p in (out / "overlays").iterdir()) == ["img01.png", "mine.png"]
    assert {r["file_name"] for r in orjson.loads((out / "results.json").read_bytes())} == {"img01.png"}


def test_full_disk_simulated(tmp_path, fake_predict, monkeypatch, capsys):
    inputs, out = tmp_path / "in", tmp_path / "out"
    _people_images(inputs, 2)
    out.mkdir()
    (out / "results.json").write_text("[]")

    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    assert fake_predict(inputs, "--out", out, "--no-overlay") == 1
    err = capsys.readouterr().err
    assert f"wholebody predict: {out / 'results.json'}: no space left on device" in err
    assert (out / "results.json").read_text() == "[]" and _temporaries(out) == []


@pytest.fixture()
def tiny_filesystem(tmp_path):
    """A 64 KiB tmpfs, or skip where mounting is not allowed (non-root, containers)."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip() or done.returncode})")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=False)  # lazy: even if a file is still open


def test_full_disk_for_real(tmp_path, tiny_filesystem, fake_predict, capsys):
    inputs, out = tmp_path / "in", tiny_filesystem / "out"
    _people_images(inputs, 12)  # 24 people: about 300 KB of results
    out.mkdir()
    (out / "results.json").write_text("[]")
    assert fake_predict(inputs, "--out", out, "--no-overlay") == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"wholebody predict: {out}/"), lines
    assert ": no space left on device" in lines[0]
    assert (out / "results.json").read_text() == "[]" and _temporaries(out) == []


def test_a_failed_overlay_write_does_not_fail_the_image(tmp_path, fake_predict, capsys):
    inputs, out = tmp_path / "in", tmp_path / "out"
    _people_images(inputs, 2)
    (out / "overlays" / "img00.png").mkdir(parents=True)  # the overlay cannot replace a folder
    # not everything asked for was written (status 1), but both images have their results
    assert main(["predict", str(inputs), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert f"{out / 'overlays' / 'img00.png'}: write failed:" in captured.err
    assert "2 images, 0 videos (0 frames), 4 people, 0 failed, 1 overlays/plots not written" in captured.out
    images = {r["file_name"]: r for r in orjson.loads((out / "images.json").read_bytes())}
    assert "error" not in images["img00.png"] and images["img00.png"]["num_people"] == 2


def test_full_disk_while_finishing_leaves_all_three_files_as_they_were(tmp_path, fake_predict, monkeypatch, capsys):
    inputs, out = tmp_path / "in", tmp_path / "out"
    _people_images(inputs, 2)
    out.mkdir()
    earlier = {"results.json": "[]", "results_3d.json": "{}", "images.json": "[1]"}
    for name, text in earlier.items():
        (out / name).write_text(text)
    calls = []

    def third_file_does_not_fit(fd):  # results.json and results_3d.json fit, images.json does not
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", third_file_does_not_fit)
    assert fake_predict(inputs, "--out", out, "--no-overlay") == 1
    assert f"{out / 'images.json'}: no space left on device" in capsys.readouterr().err
    assert {name: (out / name).read_text() for name in earlier} == earlier  # not a mix of two runs
    assert _temporaries(out) == []


def test_plots_of_earlier_runs_are_removed_too(tmp_path, fake_predict):
    inputs, out = tmp_path / "in", tmp_path / "out"
    paths = _people_images(inputs, 2, people=1)
    assert fake_predict(inputs, "--out", out, "--plot3d") == 0
    assert sorted(p.name for p in (out / "plots3d").iterdir()) == ["img00_person0.png", "img01_person0.png"]
    assert fake_predict(paths[0], "--out", out, "--plot3d") == 0
    assert sorted(p.name for p in (out / "plots3d").iterdir()) == ["img00_person0.png"]
