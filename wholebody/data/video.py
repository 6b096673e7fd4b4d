"""Video frames in, overlay video out, through OpenCV (``cv2``, imported only when used).

Reading: :class:`VideoReader` yields ``(frame_index, rgb_uint8)`` and keeps going past frames
the decoder rejects.  OpenCV's FFmpeg backend answers a damaged packet with one failed
``read()`` and then continues with the next frame, so each failed read before the announced
frame count is one *broken frame*: it is reported (``on_broken(index, reason)``) and its index
is skipped, so the indices of later frames stay true to the video's timeline.  When reads keep
failing (``max_consecutive_failures`` in a row) the stream is over; if that happens before the
frame count in the header, the missing tail is reported once.  Damage that the decoder conceals
(e.g. MJPEG with error concealment) yields a visibly damaged frame and cannot be detected here.

Writing: :class:`VideoWriter` encodes a browser-playable H.264 MP4 (PyAV; VP9 / WebM or OpenCV's
``mp4v`` as fallbacks, see :mod:`wholebody.data.browser_video`) into a temporary file next to
the target and renames it over the target only when closed without error.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from wholebody.data.atomic import AtomicOutput
from wholebody.data.errors import ImageError

log = logging.getLogger(__name__)
DEFAULT_FPS = 30.0  # used when the container does not say


@dataclass(frozen=True)
class VideoInfo:
    """What the container header says: frames per second, frame count (0 if unknown), size in pixels."""

    fps: float
    frame_count: int
    width: int
    height: int


class VideoReader:
    """Iterate over the frames of a video file as RGB uint8 arrays (see module docstring).

    Args:
        path: the video file.
        on_broken: called with ``(frame_index, reason)`` for each frame that could not be decoded;
            by default a warning is logged.
        max_consecutive_failures: failed reads in a row that mean the stream has ended.
    """

    def __init__(self, path: str | os.PathLike, on_broken: Callable[[int, str], None] | None = None,
                 max_consecutive_failures: int = 25) -> None:
        import cv2

        self.path = Path(path)
        if not self.path.is_file():
            raise ImageError(self.path, "no such file" if not self.path.exists() else "not a file")
        if self.path.stat().st_size == 0:
            raise ImageError(self.path, "empty file (0 bytes)")
        self._capture = _open_quietly(cv2, self.path)
        if not self._capture.isOpened():
            raise ImageError(self.path, "cannot open as a video (unknown container or codec, or damaged header)")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.info = VideoInfo(
            fps=float(fps) if fps and np.isfinite(fps) and fps > 0 else DEFAULT_FPS,
            frame_count=max(int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0),
            width=int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        self.broken_frames: list[int] = []
        self._on_broken = on_broken or (lambda index, reason: log.warning("%s: frame %d: %s", self.path, index, reason))
        self._max_failures = max_consecutive_failures

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        import cv2

        index = 0  # index of the next frame to read
        failed: list[int] = []  # indices of the current run of failed reads
        while True:
            ok, frame = self._capture.read()
            if ok and frame is not None:
                for broken in failed:
                    self._report(broken, "frame could not be decoded (skipped)")
                failed = []
                yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                index += 1
                continue
            at_end = self.info.frame_count and index >= self.info.frame_count
            if at_end or not self.info.frame_count or len(failed) >= self._max_failures:
                break
            failed.append(index)
            index += 1
        if failed:
            first = failed[0]
            self._report(first, f"stream ended at frame {first}, but the header announces "
                                f"{self.info.frame_count} frames (frames {first}..{self.info.frame_count - 1} lost)")

    def _report(self, index: int, reason: str) -> None:
        self.broken_frames.append(index)
        self._on_broken(index, reason)

    def close(self) -> None:
        self._capture.release()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _open_quietly(cv2, path: Path):
    """``cv2.VideoCapture(path)`` without FFmpeg's and OpenCV's own lines on stderr
    (``moov atom not found``, ``[ERROR:0@0.04] ... Failed to initialize VideoCapture``): a file
    that will not open is reported once, as ``PATH: reason``.  FFmpeg's level is read from
    ``OPENCV_FFMPEG_LOGLEVEL`` when OpenCV first uses FFmpeg; a value the user set is kept
    (e.g. 24 to see FFmpeg's warnings again)."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    logging_api = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_api is None:
        return cv2.VideoCapture(str(path))
    previous = logging_api.getLogLevel()
    logging_api.setLogLevel(logging_api.LOG_LEVEL_SILENT)
    try:
        return cv2.VideoCapture(str(path))
    finally:
        logging_api.setLogLevel(previous)


class VideoWriter(AtomicOutput):
    """Write RGB uint8 frames to ``path``, atomically: temp file, then ``os.replace``.

    ``fourcc`` None (default): a video browsers play (:mod:`wholebody.data.browser_video`):
    H.264 / MP4; else VP9 / WebM, and then ``path`` takes the ``.webm`` suffix; else OpenCV's
    ``mp4v`` with a warning.  A ``fourcc`` string (e.g. ``"mp4v"``, ``"MJPG"``) encodes with
    OpenCV and that code, the container following ``path``'s extension.  :attr:`codec` says
    what was chosen (``"h264"``, ``"vp9"`` or the fourcc).

    The frame size is taken from the first frame; later frames of another size are resized.
    Use as a context manager: leaving the block with an exception deletes the temporary file.
    """

    def __init__(self, path: str | os.PathLike, fps: float, fourcc: str | None = None) -> None:
        from wholebody.data.browser_video import available_codec

        self.path = Path(path)
        self.fps = float(fps) if fps and fps > 0 else DEFAULT_FPS
        self._browser = available_codec() if fourcc is None else None
        if fourcc is None and self._browser is None:
            log.warning("%s: no H.264 or VP9 encoder (install the [video] extra: PyAV); writing mp4v, "
                        "which web browsers do not play", self.path)
            fourcc = "mp4v"
        if self._browser is not None:
            self.path = self.path.with_suffix(self._browser.suffix)
        self.codec = self._browser.name if self._browser is not None else fourcc
        self.fourcc = fourcc
        self.frames_written = 0
        self._writer = None
        self._size: tuple[int, int] | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # cv2 picks the container from the extension, so the temp file keeps it.
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=self.path.suffix, dir=self.path.parent)
        os.close(fd)
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; outputs are ordinary files
        self._tmp = Path(tmp)

    def _open(self, width: int, height: int):
        if self._browser is not None:
            from wholebody.data.browser_video import PyAVEncoder

            return PyAVEncoder(self._tmp, self.fps, width, height, self._browser)
        import cv2

        writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter_fourcc(*self.fourcc), self.fps, (width, height))
        if not writer.isOpened():
            raise ImageError(self.path, f"cannot open a '{self.fourcc}' video writer for this file type")
        return writer

    def write(self, frame_rgb: np.ndarray) -> None:
        import cv2

        height, width = frame_rgb.shape[:2]
        if self._writer is None:
            self._size = (width, height)
            self._writer = self._open(width, height)
        if (width, height) != self._size:
            frame_rgb = cv2.resize(frame_rgb, self._size, interpolation=cv2.INTER_AREA)
        if self._browser is not None:
            self._writer.write(frame_rgb)
        else:
            self._writer.write(cv2.cvtColor(np.ascontiguousarray(frame_rgb), cv2.COLOR_RGB2BGR))
        self.frames_written += 1

    def _release(self, finish: bool) -> None:
        writer, self._writer = self._writer, None
        if self._browser is None:
            writer.release()
        elif finish:
            writer.close()
        else:
            writer.abort()

    def close(self) -> None:
        """Finish the file and move it into place (nothing is written for zero frames)."""
        if self._writer is not None:
            self._release(finish=True)
            os.replace(self._tmp, self.path)
        self.abort()

    def abort(self) -> None:
        """Drop the temporary file; the target is left untouched."""
        if self._writer is not None:
            self._release(finish=False)
        self._tmp.unlink(missing_ok=True)
