"""``wholebody predict`` on a live source: a camera (``webcam:0``, ``/dev/video0``) or a stream URL.

A live source has no end, so results are not gathered into ``results.json`` at the end but
streamed to ``DIR/results.jsonl``: one JSON object per frame, written and flushed as soon as the
frame is done::

    {"frame": 12, "time": 0.41, "width": 640, "height": 480,
     "people": [<results.json record of each person, with track_id>]}

``time`` is seconds since the source opened (wall clock).  People are tracked and smoothed as in
a video.  Ctrl-C or SIGTERM (the current frame is finished first; a second signal stops at
once), ``q`` / Esc in the ``--show`` window, or ``--max-frames`` ends the run cleanly: the lines
written so far stay, the overlay video (``DIR/overlays/<name>.mp4``) and the OpenPose files
(``--format openpose``) are finished.  Ctrl-C is the normal way to end a live run (status 0);
SIGTERM means the run was stopped from outside (``kill``, systemd, ``docker stop``), so
:attr:`LiveSummary.status` is 143 as for every other verb.  Frames are taken in order as the source
delivers them; none is skipped, so a model slower than the camera falls behind it.

A source that cannot be opened raises :class:`SourceUnavailable` naming it.  When reads fail
mid-run (a stream dropped, a camera unplugged), the source is reopened up to ``retries`` times,
``retry_wait`` seconds apart; after that the run ends cleanly with what was written.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import orjson

from wholebody.data.errors import WholebodyError
from wholebody.data.interrupts import Terminated
from wholebody.data.results import person_to_result
from wholebody.predict.sequence import FrameSequence, SequenceOptions

log = logging.getLogger(__name__)
URL_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")
_WEBCAM = re.compile(r"^webcam:(\d+)$")
_DEVICE = re.compile(r"^/dev/video\d+$")
TIMEOUT_MS = 10_000  # opening or reading a network stream: give up after this long


class SourceUnavailable(WholebodyError):
    """A camera or stream that cannot be opened."""


def is_live_source(argument: str) -> bool:
    """True for ``webcam:N``, ``/dev/videoN`` and stream URLs (``rtsp://``, ``http://``, ...)."""
    text = str(argument)
    return bool(_WEBCAM.match(text) or _DEVICE.match(text)) or text.lower().startswith(URL_SCHEMES)


def source_name(argument: str) -> str:
    """A file-name-safe name for a live source's outputs: ``webcam0``, ``video0``, ``<host>_<path>``."""
    text = str(argument)
    if match := _WEBCAM.match(text):
        return f"webcam{match.group(1)}"
    text = re.sub(r"^[a-z]+://", "", text, flags=re.IGNORECASE).split("?")[0]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text.removeprefix("/dev/")).strip("_.")
    return name[:80] or "stream"


class LiveCapture:
    """An OpenCV capture of a live source that can be reopened; frames are RGB uint8."""

    def __init__(self, argument: str) -> None:
        self.argument = argument
        self._capture = None
        self.open()

    def open(self) -> None:
        import cv2

        self.close()
        if match := _WEBCAM.match(self.argument):
            capture = cv2.VideoCapture(int(match.group(1)))
        elif _DEVICE.match(self.argument):
            capture = cv2.VideoCapture(self.argument)
        else:
            capture = cv2.VideoCapture(self.argument, cv2.CAP_FFMPEG,
                                       [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                                        TIMEOUT_MS])
        if not capture.isOpened():
            capture.release()
            raise SourceUnavailable(f"{self.argument}: cannot open the camera or stream")
        self._capture = capture

    @property
    def fps(self) -> float:
        import cv2

        fps = self._capture.get(cv2.CAP_PROP_FPS) if self._capture is not None else 0
        return float(fps) if fps and np.isfinite(fps) and 0 < fps <= 240 else 30.0

    def read(self) -> np.ndarray | None:
        """The next frame, or None when the source fails to deliver one."""
        import cv2

        ok, frame = self._capture.read()
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if ok and frame is not None else None

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


@dataclass
class LiveOptions(SequenceOptions):
    """Switches of a live run; tracking, smoothing and the score threshold as for a video file."""

    overlay: bool = True
    openpose: bool = False
    show: bool = False
    max_frames: int | None = None
    retries: int = 3
    retry_wait: float = 1.0


@dataclass
class LiveSummary:
    frames: int = 0
    people: int = 0
    reconnects: int = 0
    ended_by: str = "end of stream"  # or "interrupted", "terminated (SIGTERM)", "window closed", "max frames",
    #                                   "source dropped"
    status: int = 0  # the exit status it calls for: 143 after SIGTERM, else 0


def display_available() -> bool:
    """Whether a window can be opened (a display on Linux; OpenCV built with a GUI)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    try:
        import cv2

        return "NO" not in cv2.getBuildInformation().split("GUI:")[1].split("\n")[0]  # e.g. "GUI: NONE"
    except Exception:
        return False


class LiveRun:
    """Estimate, track, smooth and stream out every frame of one live source (module docstring)."""

    def __init__(self, argument: str, estimator: Callable, out_dir: str | Path, options: LiveOptions) -> None:
        self.argument, self.estimator, self.options = argument, estimator, options
        self.out_dir, self.name = Path(out_dir), source_name(argument)
        self.summary = LiveSummary()
        self._stop_requested = False

    def run(self, capture: LiveCapture) -> LiveSummary:
        """Process frames until the source ends or drops for good, Ctrl-C, the window, or max frames."""
        from wholebody.data.video import VideoWriter

        self.out_dir.mkdir(parents=True, exist_ok=True)
        overlay = VideoWriter(self.out_dir / "overlays" / f"{self.name}.mp4", capture.fps) if self.options.overlay else None
        show = self.options.show and self._window_possible()
        previous = self._catch_signals()
        try:
            with open(self.out_dir / "results.jsonl", "wb") as lines:
                self._loop(capture, lines, overlay, show)
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
            if overlay is not None:
                overlay.close()  # a live run ends by interruption: what was encoded is kept
            if show:
                import cv2

                cv2.destroyAllWindows()
        return self.summary

    def _catch_signals(self) -> dict:
        """First Ctrl-C or SIGTERM: finish the current frame, then stop (so its line, overlay frame
        and OpenPose file are all written); a second one interrupts at once.  Returns the previous
        handlers by signal (none off the main thread, where signals cannot be caught)."""
        if threading.current_thread() is not threading.main_thread():
            return {}

        def stop_after_frame(signum, stack) -> None:
            terminated = signum == signal.SIGTERM
            if terminated:
                self.summary.status = 128 + signal.SIGTERM
            if self._stop_requested:
                raise Terminated() if terminated else KeyboardInterrupt()
            self._stop_requested = True
            log.warning("%s: stopping after this frame (%s again to stop at once)", self.argument,
                        "SIGTERM" if terminated else "Ctrl-C")

        return {number: signal.signal(number, stop_after_frame) for number in (signal.SIGINT, signal.SIGTERM)}

    def _stopped_name(self) -> str:
        return "terminated (SIGTERM)" if self.summary.status else "interrupted"

    def _window_possible(self) -> bool:
        if display_available():
            return True
        log.warning("--show: no display (or OpenCV without a GUI); running without a window")
        return False

    def _loop(self, capture: LiveCapture, lines, overlay, show: bool) -> None:

        options = self.options
        sequence = FrameSequence(capture.fps, options)
        started = time.monotonic()
        self._attempts = 0  # reconnections since the last good frame
        try:
            while options.max_frames is None or self.summary.frames < options.max_frames:
                if self._stop_requested:
                    self.summary.ended_by = self._stopped_name()
                    return
                frame = capture.read()
                if frame is None and not self._reconnect(capture):
                    return
                if frame is None:
                    continue
                self._attempts = 0
                index = self.summary.frames
                people = sequence.estimate(self.estimator, frame)
                sequence.update(people, index)
                self._write(lines, frame, people, index, time.monotonic() - started)
                if overlay is not None or show:
                    from wholebody.viz.overlay import draw_people

                    drawn = draw_people(frame, people, options.score_thr)
                    if overlay is not None:
                        overlay.write(drawn)
                    if show and self._show(drawn):
                        self.summary.ended_by = "window closed"
                        return
            self.summary.ended_by = "max frames"
        except KeyboardInterrupt:  # a second signal: stopped at once, the last frame may be unwritten
            self.summary.ended_by = self._stopped_name()

    def _write(self, lines, frame: np.ndarray, people, index: int, seconds: float) -> None:
        records = [person_to_result(person, index + 1, frame=index, file_name=self.name) for person in people]
        height, width = frame.shape[:2]
        line = {"frame": index, "time": round(seconds, 3), "width": width, "height": height, "people": records}
        lines.write(orjson.dumps(line, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")
        lines.flush()  # a reader (or a crash) sees every finished frame
        if self.options.openpose:
            from wholebody.predict.openpose import openpose_path, write_openpose

            write_openpose(openpose_path(self.out_dir, self.name, index), people)
        self.summary.frames += 1
        self.summary.people += len(people)

    def _show(self, drawn: np.ndarray) -> bool:
        """Show a frame; True when the user asked to stop (q or Esc)."""
        import cv2

        cv2.imshow(f"wholebody: {self.argument}", cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
        return cv2.waitKey(1) & 0xFF in (ord("q"), 27)

    def _reconnect(self, capture: LiveCapture) -> bool:
        """After a failed read: reopen the source; False once ``retries`` reopenings since the last
        good frame have not brought a frame back."""
        while self._attempts < self.options.retries:
            self._attempts += 1
            log.warning("%s: no frame after frame %d; reconnecting (%d of %d)", self.argument,
                        self.summary.frames, self._attempts, self.options.retries)
            time.sleep(self.options.retry_wait)
            try:
                capture.open()
            except SourceUnavailable:
                continue
            self.summary.reconnects += 1
            return True
        self.summary.ended_by = "source dropped"
        return False
