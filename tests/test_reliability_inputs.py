"""Hostile inputs give one accurate ``path: reason`` each and never stop the batch.

Symlink loops (in a folder, a glob, or named), ``/proc/self/mem`` named ``.jpg``, a FIFO, a PNG
with a bad header checksum, 1-pixel-wide images, a 225-megapixel image under
``--max-megapixels 300``, and FFmpeg's own chatter on an unreadable video.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest
from PIL import Image

import wholebody.cli.predict as predict_cli
from fake_estimator import FakeEstimator
from wholebody.cli.main import main
from wholebody.data.errors import ImageError
from wholebody.data.images import read_image
from wholebody.data.inputs import iter_inputs


def _person_png(path: Path, width: int = 120, height: int = 200) -> Path:
    image = np.zeros((height, width, 3), np.uint8)
    image[20:180, 30:90] = 255  # one bright box: one person for the fake estimator
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)
    return path


class _LikeTheExperts(FakeEstimator):
    """Refuses images under 2 px as ``wholebody.experts`` does (``ValueError: image too small``)."""

    def __call__(self, image, person_boxes=None, person_scores=None):
        if min(image.shape[:2]) < 2:
            raise ValueError(f"image too small: {image.shape}")
        return super().__call__(image, person_boxes, person_scores)


@pytest.fixture()
def fake_predict(monkeypatch):
    """Run ``wholebody predict`` in-process with an estimator that behaves like the experts."""
    monkeypatch.setattr(predict_cli, "load_estimator", lambda model_path, **options: _LikeTheExperts())

    def run(*args) -> int:
        return main(["predict", *map(str, args), "-q"])

    return run


def _images_json(out: Path) -> dict:
    return {r["file_name"]: r for r in orjson.loads((out / "images.json").read_bytes())}


def test_symlink_loops_are_named_failed_inputs_and_the_batch_goes_on(tmp_path, fake_predict, capsys):
    data = tmp_path / "in"
    _person_png(data / "good.png")
    os.symlink("self.jpg", data / "self.jpg")  # a link to itself
    os.symlink("b.jpg", data / "a.jpg")  # two links pointing at each other
    os.symlink("a.jpg", data / "b.jpg")
    sources = iter_inputs([data])
    assert [(s.name, s.kind) for s in sources] == [("a.jpg", "missing"), ("b.jpg", "missing"),
                                                   ("good.png", "image"), ("self.jpg", "missing")]
    assert all("symbolic link loop" in s.error for s in sources if s.kind == "missing")
    # a glob keeps them too (it used to drop them silently), and so does naming one
    assert [s.name for s in iter_inputs([str(data / "*.jpg")])] == ["a.jpg", "b.jpg", "self.jpg"]
    assert "symbolic link loop" in iter_inputs([data / "self.jpg"])[0].error

    out = tmp_path / "out"
    assert fake_predict(data, "--out", out) == 1
    err = capsys.readouterr().err
    assert f"{data / 'self.jpg'}: symbolic link loop" in err and "Traceback" not in err
    images = _images_json(out)
    assert images["good.png"]["num_people"] == 1
    assert "symbolic link loop" in images["a.jpg"]["error"]


def test_read_image_names_what_is_wrong(tmp_path):
    os.symlink("loop.jpg", tmp_path / "loop.jpg")
    with pytest.raises(ImageError, match="symbolic link loop"):
        read_image(tmp_path / "loop.jpg")

    os.symlink("/proc/self/mem", tmp_path / "mem.jpg")  # 0 bytes by stat, unreadable at offset 0
    with pytest.raises(ImageError) as caught:
        read_image(tmp_path / "mem.jpg")
    assert "empty file" not in caught.value.reason and "cannot read" in caught.value.reason

    os.mkfifo(tmp_path / "pipe.png")  # opening it would block for ever
    with pytest.raises(ImageError, match="not a regular file \\(a named pipe\\)"):
        read_image(tmp_path / "pipe.png")

    good = _person_png(tmp_path / "good.png").read_bytes()
    crc_at = 8 + 4 + 4 + 13  # signature, IHDR length and type, IHDR data: then its CRC
    broken = bytearray(good)
    broken[crc_at] ^= 0xFF
    (tmp_path / "crc.png").write_bytes(bytes(broken))
    with pytest.raises(ImageError, match=r"corrupt PNG file \(broken PNG file \(bad header checksum"):
        read_image(tmp_path / "crc.png")
    (tmp_path / "text.png").write_text("hello, not an image")
    with pytest.raises(ImageError, match="not an image \\(format not recognised\\)"):
        read_image(tmp_path / "text.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageError, match="empty file \\(0 bytes\\)"):
        read_image(tmp_path / "empty.png")


def test_one_pixel_wide_images_have_no_people_like_two_by_two(tmp_path, fake_predict, capsys):
    data = tmp_path / "in"
    data.mkdir()
    for name, (height, width) in {"1x1.png": (1, 1), "tall.png": (50, 1), "wide.png": (1, 50),
                                  "2x2.png": (2, 2)}.items():
        Image.fromarray(np.full((height, width, 3), 255, np.uint8)).save(data / name)
    out = tmp_path / "out"
    assert fake_predict(data, "--out", out) == 0, capsys.readouterr().err
    images = _images_json(out)
    assert {name: (r.get("num_people"), r.get("error")) for name, r in images.items()} == {
        name: (0, None) for name in ("1x1.png", "tall.png", "wide.png", "2x2.png")}


@pytest.mark.slow  # about 10 s: decoding 225 Mpx to RGB
def test_max_megapixels_above_pillows_own_guard(tmp_path, fake_predict, monkeypatch, capsys):
    # An estimator that does not look at the pixels: the fake's bright-box search takes 30 s here.
    monkeypatch.setattr(predict_cli, "load_estimator", lambda model_path, **options: lambda image, **boxes: [])
    big = tmp_path / "in" / "big.png"
    big.parent.mkdir()
    Image.new("1", (15_000, 15_000), 0).save(big)  # 225 Mpx; 1 bit per pixel keeps it cheap
    out = tmp_path / "out"
    assert fake_predict(big, "--out", out, "--no-overlay") == 1
    assert f"{big}: image is 225 Mpx, above the limit of 100 Mpx" in capsys.readouterr().err
    assert fake_predict(big, "--out", out, "--no-overlay", "--max-megapixels", "300") == 0, capsys.readouterr().err
    record = _images_json(out)["big.png"]
    assert (record["width"], record["height"], record["num_people"]) == (15_000, 15_000, 0)


def test_unreadable_video_is_one_line_without_ffmpeg_chatter(tmp_path):
    pytest.importorskip("cv2")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    script = ("import sys\nfrom wholebody.data.video import VideoReader\nfrom wholebody.data.errors import ImageError\n"
              "try:\n    VideoReader(sys.argv[1])\nexcept ImageError as err:\n    print(err, file=sys.stderr)\n")
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_FFMPEG_LOGLEVEL"}
    done = subprocess.run([sys.executable, "-c", script, str(junk)], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert done.stderr.splitlines() == [f"{junk}: cannot open as a video (unknown container or codec, or damaged "
                                        "header)"], done.stderr
