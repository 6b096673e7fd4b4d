"""Overlay videos that web browsers play: H.264 in MP4, else VP9 in WebM, through PyAV.

PyAV (BSD-3-Clause, the optional ``[video]`` extra) ships FFmpeg in its wheels.  The Linux wheel
of PyAV 18.1 bundles libx264 (GPL-2.0-or-later) and libvpx (BSD) beside FFmpeg's LGPL
libraries; this project only calls them and ships none of them.  A build without an H.264
encoder gets VP9 / WebM; without PyAV or either encoder, :class:`wholebody.data.video.VideoWriter`
falls back to OpenCV's MPEG-4 Part 2 (``mp4v``) with a warning.

H.264 is written as ``avc1`` in MP4 with ``yuv420p`` pixels (what browsers decode) and
``movflags=+faststart`` (the index at the front, so playback starts before the download ends).
``yuv420p`` needs an even width and height: an odd last row / column is cropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrowserCodec:
    """One encoding choice: PyAV encoder name, container format, file suffix and encoder options."""

    name: str  # "h264" or "vp9": what the file holds
    encoder: str
    container: str
    suffix: str
    options: tuple[tuple[str, str], ...]


# In order of preference.  CRF values: visually clean overlays at a fraction of mp4v's size.
BROWSER_CODECS = (
    BrowserCodec("h264", "libx264", "mp4", ".mp4", (("crf", "23"), ("preset", "veryfast"))),
    BrowserCodec("h264", "libopenh264", "mp4", ".mp4", (("b", "4M"),)),
    BrowserCodec("vp9", "libvpx-vp9", "webm", ".webm",
                 (("crf", "32"), ("b", "0"), ("deadline", "realtime"), ("cpu-used", "8"))),
)


def available_codec(preferred: tuple[str, ...] = ("h264", "vp9")) -> BrowserCodec | None:
    """The first encoder of :data:`BROWSER_CODECS` whose ``name`` is in ``preferred`` and that this
    PyAV build has; None without PyAV or without any of them."""
    try:
        import av
    except ImportError:
        return None
    for codec in BROWSER_CODECS:
        if codec.name not in preferred:
            continue
        try:
            av.codec.Codec(codec.encoder, "w")
        except Exception:  # av.codec.codec.UnknownCodecError, or a build that cannot encode it
            continue
        return codec
    return None


class PyAVEncoder:
    """Encode RGB uint8 frames of one size into ``path`` with ``codec`` (see module docstring)."""

    def __init__(self, path: Path, fps: float, width: int, height: int, codec: BrowserCodec) -> None:
        import av

        self.codec = codec
        self.width, self.height = width - width % 2, height - height % 2
        if self.width == 0 or self.height == 0:
            raise ValueError(f"frame of {width}x{height} pixels is too small to encode")
        options = {"movflags": "+faststart"} if codec.container == "mp4" else {}
        self._container = av.open(str(path), mode="w", format=codec.container, options=options)
        try:
            rate = Fraction(fps).limit_denominator(1001)
            self._stream = self._container.add_stream(codec.encoder, rate=rate)
            self._stream.width, self._stream.height = self.width, self.height
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = dict(codec.options)
        except BaseException:
            self._container.close()
            raise

    def write(self, frame_rgb: np.ndarray) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame_rgb[: self.height, : self.width]),
                                           format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        """Flush the encoder and finish the container."""
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()

    def abort(self) -> None:
        try:
            self._container.close()
        except Exception:  # an unfinished file is deleted by the caller anyway
            log.debug("closing an aborted %s encoder", self.codec.encoder, exc_info=True)
