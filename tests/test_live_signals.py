"""Ending a live run (camera / stream) by signal, as the README promises: Ctrl-C or SIGTERM
finishes the current frame and ends cleanly (every results.jsonl line, the overlay video and the
OpenPose files complete); Ctrl-C exits 0 (the normal way to end a live run), SIGTERM 143 with a
message; a second signal stops at once.  A live run also locks its --out folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from wholebody.data.folder_lock import OutputFolderLock

cv2 = pytest.importorskip("cv2")
TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
sys.path.insert(0, str(TESTS))
from mjpeg_server import MJPEGServer, moving_box_frames  # noqa: E402

# The CLI with a fake estimator; it hangs from frame HANG_AT on, so that a test can signal it
# mid-frame (HANG_AT 0: never hangs).
RUN_WITH_FAKE = """
import sys
sys.path.insert(0, {tests!r})
import wholebody.cli.predict as predict
from fake_estimator import StallingEstimator
predict.load_estimator = lambda model_path, **options: StallingEstimator({hang_at}, marker={marker!r})
from wholebody.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def _lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def _live_run(tmp_path: Path, server: MJPEGServer, hang_at: int = 0, *extra: str) -> subprocess.Popen:
    script = RUN_WITH_FAKE.format(tests=str(TESTS), hang_at=hang_at, marker=str(tmp_path / "hanging"))
    return subprocess.Popen([sys.executable, "-c", script, "predict", server.url, "--out", str(tmp_path / "out"),
                             "--format", "openpose", *extra], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))


def _wait_for(condition, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the live run never got that far"
        time.sleep(0.05)


def _overlay_frames(out: Path) -> int:
    capture = cv2.VideoCapture(str(next((out / "overlays").iterdir())))
    count = 0
    while capture.read()[0]:
        count += 1
    return count


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 0), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_a_signal_ends_a_live_run_cleanly(tmp_path, signum, status):
    out = tmp_path / "out"
    with MJPEGServer(moving_box_frames(10), endless=True, interval=0.03) as server:
        process = _live_run(tmp_path, server)
        try:
            _wait_for(lambda: len(_lines(out / "results.jsonl")) >= 3, process)
            process.send_signal(signum)
            stdout, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == status, stderr
    assert "Traceback" not in stderr
    lines = _lines(out / "results.jsonl")  # every line is whole JSON
    assert len(lines) >= 3 and [line["frame"] for line in lines] == list(range(len(lines)))
    assert _overlay_frames(out) == len(lines)  # the overlay video was finished
    assert len(list((out / "openpose").rglob("*_keypoints.json"))) == len(lines)
    if signum == signal.SIGTERM:
        assert "ended by terminated (SIGTERM)" in stdout
        assert stderr.strip().endswith(f"wholebody predict: terminated (SIGTERM); {len(lines)} frames written to "
                                       f"{out / 'results.jsonl'}")
    else:
        assert "ended by interrupted" in stdout


def test_a_second_sigterm_stops_a_stuck_frame_at_once(tmp_path):
    out = tmp_path / "out"
    with MJPEGServer(moving_box_frames(10), endless=True, interval=0.03) as server:
        process = _live_run(tmp_path, server, 4)
        try:
            _wait_for(lambda: (tmp_path / "hanging").exists(), process)
            process.send_signal(signal.SIGTERM)  # would wait for the frame, which never ends
            time.sleep(0.5)
            assert process.poll() is None
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 143, stderr
    assert "Traceback" not in stderr and "terminated (SIGTERM); 3 frames written" in stderr
    assert [line["frame"] for line in _lines(out / "results.jsonl")] == [0, 1, 2]
    assert _overlay_frames(out) == 3


def test_a_live_run_into_a_busy_folder_is_refused(tmp_path):
    out = tmp_path / "out"
    with MJPEGServer(moving_box_frames(3), interval=0.01) as server, OutputFolderLock(out):
        process = _live_run(tmp_path, server)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert f"{out}: another wholebody run (process {os.getpid()})" in stderr
    assert not (out / "results.jsonl").exists()
