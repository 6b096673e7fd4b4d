"""read_image: every kind of bad file gives an ImageError naming the path; every mode becomes RGB uint8."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wholebody.data.errors import ImageError, WholebodyError
from wholebody.data.images import read_image, write_image


def _gradient(height: int = 24, width: int = 32) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // (width - 1), y * 255 // (height - 1), np.full_like(x, 90)], axis=2).astype(np.uint8)


def _expect_error(path: Path, words: str, **kwargs) -> ImageError:
    with pytest.raises(ImageError) as caught:
        read_image(path, **kwargs)
    assert str(path) in str(caught.value) and words in caught.value.reason
    assert isinstance(caught.value, WholebodyError)
    return caught.value


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose IHDR claims ``width x height`` (8-bit RGB) but holds almost no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + _png_chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


def test_rgb_jpeg_and_png(tmp_path):
    pixels = _gradient()
    Image.fromarray(pixels).save(tmp_path / "a.png")
    Image.fromarray(pixels).save(tmp_path / "a.jpg", quality=95)
    png, jpg = read_image(tmp_path / "a.png"), read_image(tmp_path / "a.jpg")
    assert png.dtype == np.uint8 and png.shape == (24, 32, 3) and png.flags.c_contiguous
    np.testing.assert_array_equal(png, pixels)
    assert jpg.shape == (24, 32, 3) and np.abs(jpg.astype(int) - pixels).mean() < 4


def test_missing_folder_empty_and_text_files(tmp_path):
    _expect_error(tmp_path / "nope.jpg", "no such file")
    _expect_error(tmp_path, "folder")
    (tmp_path / "empty.jpg").write_bytes(b"")
    _expect_error(tmp_path / "empty.jpg", "empty file")
    (tmp_path / "notes.jpg").write_text("this is not a picture\n")
    _expect_error(tmp_path / "notes.jpg", "not an image")


def test_unreadable_file_simulated(tmp_path, monkeypatch):
    """The denial is simulated: CI runs as root, which reads any file, so a real chmod 0 test would always skip."""
    import wholebody.data.images as images

    path = tmp_path / "locked.png"
    Image.fromarray(_gradient()).save(path)
    monkeypatch.setattr(images.os, "access", lambda *args: False)
    _expect_error(path, "permission denied")
    monkeypatch.undo()

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(images.Image, "open", denied)
    _expect_error(path, "permission denied")


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_truncated_files(tmp_path, suffix):
    path = tmp_path / f"cut{suffix}"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _expect_error(path, "truncated or corrupt")


def test_too_large_by_our_limit_and_by_pillows(tmp_path):
    small = tmp_path / "small.png"
    Image.fromarray(_gradient()).save(small)
    error = _expect_error(small, "above the limit", max_pixels=500)
    assert "32x24" in error.reason
    # Headers only: Pillow sizes the image without decoding, so no memory is spent.
    _png_header_only(tmp_path / "big.png", 12_000, 12_000)  # 144 Mpx: over our default 100 Mpx
    _expect_error(tmp_path / "big.png", "above the limit")
    _png_header_only(tmp_path / "bomb.png", 30_000, 30_000)  # 900 Mpx: Pillow refuses in open()
    _expect_error(tmp_path / "bomb.png", "above the limit of 100 Mpx")


def test_alpha_is_composited_on_black(tmp_path):
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., :3] = (200, 100, 50)
    rgba[0, :, 3] = (0, 128, 255)
    rgba[1, :, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out[0, 0], [0, 0, 0])
    np.testing.assert_allclose(out[0, 1], np.array([200, 100, 50]) * 128 / 255, atol=1)
    np.testing.assert_array_equal(out[1], np.tile([200, 100, 50], (3, 1)))
    la = Image.fromarray(rgba[..., [0, 3]], "LA")
    la.save(tmp_path / "la.png")
    out = read_image(tmp_path / "la.png")
    assert out.shape == (2, 3, 3) and (out[..., 0] == out[..., 2]).all()
    np.testing.assert_array_equal(out[1, :, 0], [200, 200, 200])


def test_palette_with_and_without_transparency(tmp_path):
    index = np.array([[0, 1], [2, 1]], np.uint8)
    palette = [255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9)
    image = Image.fromarray(index, "P")
    image.putpalette(palette)
    image.save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_image(tmp_path / "p.png")[0], [[255, 0, 0], [0, 255, 0]])
    image.save(tmp_path / "pt.png", transparency=1)  # colour 1 (green) is transparent
    out = read_image(tmp_path / "pt.png")
    np.testing.assert_array_equal(out[0], [[255, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(out[1, 0], [0, 0, 255])


def test_16bit_gray_png_is_scaled_to_8bit(tmp_path):
    values = np.array([[0, 257 * 100], [65535, 257 * 7]], np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    out = read_image(tmp_path / "g16.png")
    assert out.dtype == np.uint8 and out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out[..., 1], [[0, 100], [255, 7]])


def test_16bit_rgb_png_is_scaled_to_8bit(tmp_path):
    cv2 = pytest.importorskip("cv2")
    rgb16 = (_gradient().astype(np.uint16) * 257)
    assert cv2.imwrite(str(tmp_path / "c16.png"), rgb16[..., ::-1])  # cv2 writes BGR
    out = read_image(tmp_path / "c16.png")
    assert out.dtype == np.uint8 and out.shape == (24, 32, 3)
    np.testing.assert_array_equal(out, _gradient())


def test_float_tiff_in_unit_range(tmp_path):
    values = np.array([[0.0, 0.5], [1.0, 0.25]], np.float32)
    Image.fromarray(values, "F").save(tmp_path / "f.tif")
    np.testing.assert_array_equal(read_image(tmp_path / "f.tif")[..., 0], [[0, 128], [255, 64]])


def test_grayscale_and_bilevel_are_replicated(tmp_path):
    gray = _gradient()[..., 0]
    Image.fromarray(gray, "L").save(tmp_path / "g.png")
    out = read_image(tmp_path / "g.png")
    assert out.shape == (24, 32, 3)
    for channel in range(3):
        np.testing.assert_array_equal(out[..., channel], gray)
    Image.fromarray(gray > 128).save(tmp_path / "b.png")  # mode "1"
    assert set(np.unique(read_image(tmp_path / "b.png"))) == {0, 255}


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    cmyk = np.zeros((16, 16, 4), np.uint8)
    cmyk[:, 8:] = (0, 255, 255, 0)  # pure red ink mix on the right half; left half is paper white
    Image.fromarray(cmyk, "CMYK").save(tmp_path / "c.jpg", quality=100)
    out = read_image(tmp_path / "c.jpg")
    assert out.shape == (16, 16, 3)
    np.testing.assert_allclose(out[4, 2], [255, 255, 255], atol=8)
    np.testing.assert_allclose(out[4, 12], [255, 0, 0], atol=12)


@pytest.mark.parametrize("orientation, corner", [(1, (0, 0)), (3, (-1, -1)), (6, (0, -1)), (8, (-1, 0))])
def test_exif_orientation_is_applied(tmp_path, orientation, corner):
    stored = np.zeros((20, 40, 3), np.uint8)  # landscape as stored
    stored[:8, :8] = 255  # white marker in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(tmp_path / "o.jpg", exif=exif, quality=95)
    out = read_image(tmp_path / "o.jpg")
    assert out.shape == ((20, 40, 3) if orientation in (1, 3) else (40, 20, 3))
    row, col = corner
    assert out[row, col].min() > 200  # the marker sits in the displayed corner
    assert out[-1 - row, -1 - col].max() < 50


def test_write_image_is_atomic_and_round_trips(tmp_path):
    pixels = _gradient()
    write_image(tmp_path / "sub" / "x.png", pixels)
    np.testing.assert_array_equal(read_image(tmp_path / "sub" / "x.png"), pixels)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["x.png"]  # no temp file left
    with pytest.raises(ValueError, match="unknown image extension"):
        write_image(tmp_path / "x.unknown", pixels)
