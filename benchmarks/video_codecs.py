"""Overlay-video size and encode time: the browser codec (H.264 / VP9) against OpenCV's mp4v.

Decodes a clip once, draws nothing (the overlay drawing is the same for both), and encodes the
same frames with :class:`wholebody.data.video.VideoWriter` twice: default (browser codec) and
``fourcc="mp4v"`` (the writer before H.264).  Prints size in MB and encode seconds of each.

Usage: ``python benchmarks/video_codecs.py CLIP [--frames 230]``
(e.g. ``../shared/media/videos/sports2d_demo.mp4``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from wholebody.data.video import VideoReader, VideoWriter


def encode(frames, fps: float, path: Path, fourcc: str | None) -> tuple[str, float, float]:
    started = time.perf_counter()
    with VideoWriter(path, fps, fourcc) as writer:
        for frame in frames:
            writer.write(frame)
    seconds = time.perf_counter() - started
    return writer.codec, writer.path.stat().st_size / 1e6, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--frames", type=int, default=230)
    args = parser.parse_args()
    with VideoReader(args.clip) as reader:
        fps, info = reader.info.fps, reader.info
        frames = [frame for index, frame in reader if index < args.frames]
    print(f"{args.clip.name}: {len(frames)} frames {info.width}x{info.height} at {fps:g} fps")
    with tempfile.TemporaryDirectory() as folder:
        for fourcc in (None, "mp4v"):
            codec, megabytes, seconds = encode(frames, fps, Path(folder) / "overlay.mp4", fourcc)
            print(f"{codec:>5}: {megabytes:6.2f} MB, encoded in {seconds:5.1f} s")


if __name__ == "__main__":
    main()
