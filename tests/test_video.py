"""VideoReader / VideoWriter: round trip, atomic writes, broken frames reported and skipped."""

from __future__ import annotations

import numpy as np
import pytest

from wholebody.data.errors import ImageError
from wholebody.data.video import VideoReader, VideoWriter

cv2 = pytest.importorskip("cv2")
FRAMES, FPS, HEIGHT, WIDTH = 30, 10.0, 64, 96


def _frame(index: int) -> np.ndarray:
    """A black frame with a white bar whose x position encodes the frame index."""
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    frame[10:50, 2 * index:2 * index + 20] = 255
    return frame


def _bar_x(frame: np.ndarray) -> int:
    return int(np.flatnonzero(frame[30, :, 0] > 128)[0])


def _write(path, fourcc="mp4v", frames=FRAMES) -> None:
    with VideoWriter(path, FPS, fourcc) as writer:
        for index in range(frames):
            writer.write(_frame(index))


@pytest.mark.parametrize("name, fourcc", [("clip.mp4", "mp4v"), ("clip.AVI", "MJPG")])
def test_round_trip(tmp_path, name, fourcc):
    _write(tmp_path / name, fourcc)
    broken = []
    with VideoReader(tmp_path / name, on_broken=lambda i, why: broken.append(i)) as reader:
        assert (reader.info.fps, reader.info.frame_count) == (FPS, FRAMES)
        assert (reader.info.width, reader.info.height) == (WIDTH, HEIGHT)
        frames = list(reader)
    assert [i for i, _ in frames] == list(range(FRAMES)) and broken == []
    for index, frame in frames:
        assert frame.shape == (HEIGHT, WIDTH, 3) and frame.dtype == np.uint8
        assert abs(_bar_x(frame) - 2 * index) <= 1  # right frame, right order, RGB kept


def test_writer_is_atomic(tmp_path):
    target = tmp_path / "out.mp4"
    with VideoWriter(target, FPS) as writer:
        writer.write(_frame(0))
        assert not target.exists()  # still in a temp file
        writer.write(np.zeros((32, 48, 3), np.uint8))  # other size: resized, not an error
    assert target.stat().st_size > 0 and writer.frames_written == 2
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]
    with pytest.raises(RuntimeError):
        with VideoWriter(tmp_path / "failed.mp4", FPS) as writer:
            writer.write(_frame(0))
            raise RuntimeError("crash while writing")
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]  # no partial file, no temp file


def test_corrupted_bytes_are_reported_and_reading_goes_on(tmp_path):
    path = tmp_path / "bad.mp4"
    _write(path)
    data = bytearray(path.read_bytes())
    # Damage the picture start code (00 00 01 B6) of frame 15: the decoder rejects that packet.
    starts = [i for i in range(len(data) - 3) if data[i:i + 4] == b"\x00\x00\x01\xb6"]
    assert len(starts) == FRAMES
    data[starts[15]:starts[15] + 4] = b"\x12\x34\x56\x78"
    path.write_bytes(bytes(data))
    reports = []
    with VideoReader(path, on_broken=lambda i, why: reports.append((i, why))) as reader:
        frames = list(reader)
    broken = [i for i, _ in reports]
    good = [i for i, _ in frames]
    assert broken == [15] and "could not be decoded" in reports[0][1]
    assert good == [i for i in range(FRAMES) if i != 15]  # reading went on, later indices stay true
    for index, frame in frames[-3:]:  # later frames keep their true indices
        assert abs(_bar_x(frame) - 2 * index) <= 1


def test_truncated_video_reports_the_lost_tail(tmp_path):
    path = tmp_path / "cut.avi"
    _write(path, "MJPG")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])
    reports = []
    with VideoReader(path, on_broken=lambda i, why: reports.append((i, why))) as reader:
        count = sum(1 for _ in reader)
    assert 0 < count < FRAMES
    assert len(reports) == 1 and reports[0][0] == count
    assert f"announces {FRAMES} frames" in reports[0][1]


def test_unopenable_files(tmp_path):
    for name, content, words in [("empty.mp4", b"", "empty file"), ("text.mp4", b"not a video" * 50, "cannot open")]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ImageError, match=words) as caught:
            VideoReader(tmp_path / name)
        assert str(tmp_path / name) in str(caught.value)
    with pytest.raises(ImageError, match="no such file"):
        VideoReader(tmp_path / "missing.mp4")
