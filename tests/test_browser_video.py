"""Overlay videos browsers play: H.264 / MP4 (avc1, yuv420p, faststart), else VP9 / WebM, else mp4v with a warning."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import wholebody.data.browser_video as browser_video
from wholebody.data.video import VideoReader, VideoWriter

cv2 = pytest.importorskip("cv2")
av = pytest.importorskip("av", reason="PyAV (the [video] extra) is not installed")
FRAMES, FPS = 12, 10.0


def _frame(index: int, height: int = 64, width: int = 96) -> np.ndarray:
    frame = np.zeros((height, width, 3), np.uint8)
    frame[10:50, 4 * index:4 * index + 20] = (255, 40, 40)  # red bar: RGB order shows in the decode
    return frame


def _write(path, frames=FRAMES, **size) -> VideoWriter:
    with VideoWriter(path, FPS) as writer:
        for index in range(frames):
            writer.write(_frame(index, **size))
    return writer


def _probe(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        return stream.codec_context.name, stream.codec_context.codec_tag, stream.codec_context.pix_fmt, decoded


def _assert_bars(decoded):
    assert len(decoded) == FRAMES
    for index, frame in enumerate(decoded):
        red = np.flatnonzero((frame[30, :, 0] > 128) & (frame[30, :, 2] < 128))
        assert abs(int(red[0]) - 4 * index) <= 1  # right frame, right order, colours kept


def test_default_writer_makes_h264_mp4_that_decodes_back(tmp_path):
    if browser_video.available_codec(("h264",)) is None:
        pytest.skip("this PyAV build has no H.264 encoder (the VP9 fallback is tested below)")
    writer = _write(tmp_path / "clip.mp4")
    assert writer.codec == "h264" and writer.path == tmp_path / "clip.mp4"
    name, tag, pix_fmt, decoded = _probe(writer.path)
    assert (name, tag, pix_fmt) == ("h264", "avc1", "yuv420p")
    _assert_bars(decoded)
    data = writer.path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart: the index comes first
    with VideoReader(writer.path) as reader:  # and the project's own reader (OpenCV) reads it
        assert sum(1 for _ in reader) == FRAMES
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


def test_odd_frame_size_is_cropped_to_even(tmp_path):
    if browser_video.available_codec() is None:
        pytest.skip("no browser codec in this PyAV build")
    writer = _write(tmp_path / "odd.mp4", height=65, width=97)
    _, _, _, decoded = _probe(writer.path)
    assert decoded[0].shape == (64, 96, 3)


def test_without_h264_falls_back_to_vp9_webm(tmp_path, monkeypatch):
    vp9 = [codec for codec in browser_video.BROWSER_CODECS if codec.name == "vp9"]
    monkeypatch.setattr(browser_video, "BROWSER_CODECS", tuple(vp9))
    if browser_video.available_codec() is None:
        pytest.skip("this PyAV build has no VP9 encoder either")
    writer = _write(tmp_path / "clip.mp4")
    assert writer.codec == "vp9" and writer.path == tmp_path / "clip.webm"
    name, _, pix_fmt, decoded = _probe(writer.path)
    assert (name, pix_fmt) == ("vp9", "yuv420p")
    _assert_bars(decoded)
    assert [p.name for p in tmp_path.iterdir()] == ["clip.webm"]


def test_without_any_browser_codec_writes_mp4v_with_a_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(browser_video, "BROWSER_CODECS", ())
    with caplog.at_level(logging.WARNING):
        writer = _write(tmp_path / "clip.mp4")
    assert writer.codec == "mp4v" and "browsers do not play" in caplog.text
    name, _, _, decoded = _probe(writer.path)
    assert name == "mpeg4" and len(decoded) == FRAMES
