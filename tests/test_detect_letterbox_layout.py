"""``detect.boxes.letterbox`` resizes a planar copy of the image (``detect.planar.PlanarImage``, made
once per image and shared by the person detectors): its network inputs equal, bit for bit, those
of the earlier path (a permuted view of ``image.astype(float32)`` per call)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wholebody.experts.detect.boxes import letterbox
from wholebody.experts.detect.planar import PlanarImage

PHOTOS = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "photos"


def interleaved_letterbox(image, input_w, input_h, keep_aspect=True, fill=0.0):
    """The earlier path: resize a (1, 3, H, W) permuted view of the interleaved float image."""
    h, w = image.shape[:2]
    if keep_aspect:
        scale = min(input_w / w, input_h / h)
        new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    else:
        scale, new_w, new_h = max(input_w / w, input_h / h), input_w, input_h
    pad_x, pad_y = (input_w - new_w) // 2, (input_h - new_h) // 2
    chw = torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1)[None]
    resized = F.interpolate(chw, size=(new_h, new_w), mode="bilinear", align_corners=False,
                            antialias=bool(scale < 1))
    canvas = torch.full((1, 3, input_h, input_w), fill, dtype=torch.float32)
    canvas[:, :, pad_y:pad_y + new_h, pad_x:pad_x + new_w] = resized.clamp(0, 255)
    return canvas.permute(0, 2, 3, 1).contiguous()


# (width, height, keep_aspect) of the detectors' inputs: MoveNet's three canvases, CenterNet.
INPUTS = [(256, 192, True), (192, 256, True), (256, 256, True), (512, 512, True), (512, 512, False)]


def _check(image, planar=None):
    """``letterbox`` of the array and of its planar form (default: converted here) equal the earlier path."""
    planar = PlanarImage.of(image) if planar is None else planar
    assert planar.shape == image.shape
    for width, height, keep in INPUTS:
        expected = interleaved_letterbox(image, width, height, keep)
        for given in (image, planar):
            tensor, _ = letterbox(given, width, height, keep)
            assert tensor.is_contiguous() and tensor.shape == (1, height, width, 3)
            assert torch.equal(tensor, expected), (type(given).__name__, image.shape, width, height)


def test_equal_on_synthetic_images_down_and_up_scaled():
    rng = np.random.default_rng(0)
    for shape in [(480, 640, 3), (333, 500, 3), (97, 61, 3), (40, 300, 3), (1, 1, 3)]:  # down, up and mixed
        _check(rng.integers(0, 256, shape, dtype=np.uint8))


def test_equal_on_group_photos_and_their_tiles():
    photos = sorted(PHOTOS.glob("*.jpg"))[:3]
    if not photos:
        pytest.skip(f"no photos at {PHOTOS} (the shared media live in ../shared beside the repo)")
    from PIL import Image

    for path in photos:
        image = np.asarray(Image.open(path).convert("RGB"))
        planar = PlanarImage.of(image)
        _check(image, planar)
        left, bottom = int(0.6 * image.shape[1]), image.shape[0] - int(0.6 * image.shape[0])
        # tiles as people._tiles cuts them: non-contiguous views of the array and of the planar copy
        _check(image[:, :left], planar[:, :left])
        _check(image[bottom:], planar[bottom:])
        _check(image[bottom:, 7:left], planar[bottom:, 7:left])


def test_planar_image_rejects_what_is_not_an_rgb_image():
    with pytest.raises(ValueError, match="RGB"):
        PlanarImage.of(np.zeros((4, 4), np.uint8))
    with pytest.raises(TypeError, match="slices"):
        PlanarImage.of(np.zeros((4, 4, 3), np.uint8))[1]
