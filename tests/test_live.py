"""Live sources: a local MJPEG-over-HTTP stream in place of a camera; results.jsonl, drops, Ctrl-C, bad sources."""

from __future__ import annotations

import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import orjson
import pytest

from wholebody.predict.live import LiveCapture, LiveOptions, LiveRun, is_live_source, source_name

cv2 = pytest.importorskip("cv2")
TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
from fake_estimator import FakeEstimator  # noqa: E402
from mjpeg_server import MJPEGServer, moving_box_frames  # noqa: E402

RUN_WITH_FAKE = """
import sys
sys.path.insert(0, {tests!r})
import wholebody.cli.predict as predict
from fake_loader import load_fake_estimator
predict.load_estimator = load_fake_estimator
from wholebody.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def _lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_live_source_names():
    for live in ("webcam:0", "/dev/video2", "rtsp://cam.local:554/stream", "http://127.0.0.1:8080/x.mjpg"):
        assert is_live_source(live), live
    for not_live in ("clip.mp4", "webcam", "photos/", "/dev/null"):
        assert not is_live_source(not_live), not_live
    assert source_name("webcam:1") == "webcam1" and source_name("/dev/video0") == "video0"
    assert source_name("rtsp://user@cam.local:554/live/main?x=1") == "user_cam.local_554_live_main"


def test_stream_that_drops_is_reopened_then_ends_cleanly(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    frames = moving_box_frames(7)
    options = LiveOptions(retries=2, retry_wait=0.05, show=True, openpose=True)
    with MJPEGServer(frames, per_connection=[4, 3]) as server, caplog.at_level(logging.WARNING):
        capture = LiveCapture(server.url)
        try:
            summary = LiveRun(server.url, FakeEstimator(), tmp_path, options).run(capture)
        finally:
            capture.close()
    assert "no display" in caplog.text and server.url in caplog.text  # --show without a display: a warning
    assert (summary.frames, summary.reconnects, summary.ended_by) == (7, 1, "source dropped")
    lines = _lines(tmp_path / "results.jsonl")
    assert [line["frame"] for line in lines] == list(range(7))
    assert all(len(line["people"]) == 1 and (line["width"], line["height"]) == (160, 120) for line in lines)
    expected = [FakeEstimator()(frame)[0].keypoints for frame in frames]
    for line, points in zip(lines, expected):  # JPEG noise moves the box edges by a pixel at most
        assert abs(line["people"][0]["keypoints"][0] - points[0, 0]) < 3  # the box moved along
    assert len({line["people"][0]["track_id"] for line in lines}) == 1
    name = source_name(server.url)
    assert len(list((tmp_path / "openpose" / f"{name}_json").iterdir())) == 7
    overlay = next((tmp_path / "overlays").iterdir())
    capture = cv2.VideoCapture(str(overlay))
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == 7


def test_cli_source_that_cannot_be_opened_is_named(tmp_path):
    url = f"http://127.0.0.1:{_free_port()}/nothing.mjpg"
    done = subprocess.run([sys.executable, "-c", RUN_WITH_FAKE.format(tests=str(TESTS)), "predict", url, "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert done.returncode == 1 and f"{url}: cannot open" in done.stderr
    mixed = subprocess.run([sys.executable, "-c", RUN_WITH_FAKE.format(tests=str(TESTS)), "predict", url,
                            str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert mixed.returncode == 2 and "only INPUT" in mixed.stderr


def test_cli_ctrl_c_ends_cleanly_with_every_frame_on_disk(tmp_path):
    out = tmp_path / "out"
    with MJPEGServer(moving_box_frames(10), endless=True, interval=0.03) as server:
        process = subprocess.Popen([sys.executable, "-c", RUN_WITH_FAKE.format(tests=str(TESTS)), "predict",
                                    server.url, "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
        try:
            deadline = time.monotonic() + 60
            results = out / "results.jsonl"
            while time.monotonic() < deadline and not (results.exists() and len(_lines(results)) >= 3):
                time.sleep(0.1)
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, stderr
    assert "ended by interrupted" in stdout
    lines = _lines(results)  # every line is whole JSON
    assert len(lines) >= 3 and [line["frame"] for line in lines] == list(range(len(lines)))
    capture = cv2.VideoCapture(str(next((out / "overlays").iterdir())))
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == len(lines)  # the overlay video was finished, not left half-written
    assert np.isfinite([p for line in lines for person in line["people"] for p in person["keypoints"]]).all()


def test_real_clip_served_as_mjpeg_gives_one_line_per_frame(tmp_path):
    clip = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "videos" / "sports2d_demo.mp4"
    if not clip.is_file():
        pytest.skip(f"real clip not found at {clip} (../shared/media beside the repo)")
    from wholebody.data.video import VideoReader

    with VideoReader(clip) as reader:  # 8 frames at half size keep the test fast
        frames = [cv2.resize(frame, None, fx=0.5, fy=0.5) for _, frame in itertools.islice(reader, 8)]
    seen = []

    def recording_estimator(image):
        seen.append(image)
        return FakeEstimator()(image)

    with MJPEGServer(frames) as server:
        capture = LiveCapture(server.url)
        try:
            summary = LiveRun(server.url, recording_estimator, tmp_path, LiveOptions(retries=1, retry_wait=0.01,
                                                                                     overlay=False)).run(capture)
        finally:
            capture.close()
    lines = _lines(tmp_path / "results.jsonl")
    assert summary.frames == len(lines) == 8 and [line["frame"] for line in lines] == list(range(8))
    height, width = frames[0].shape[:2]
    assert all((line["width"], line["height"]) == (width, height) for line in lines)
    for sent, got in zip(frames, seen):  # the frames arrive in order, in RGB, JPEG-close to what was sent
        assert np.abs(sent.astype(int) - got.astype(int)).mean() < 8
