"""Whole-body skeleton overlays drawn with Pillow.

Every person is drawn with the links of ``schema.DRAW_SKELETON`` coloured by
``schema.link_color`` (left side green, right side blue, face white, feet yellow), keypoints
in their part colour with a dark rim, a dark halo under every body, foot and hand line (so light
colours stay readable on snow or skin; the dense face lines get none), the person box (in the track's colour for video), the
face / hand boxes, and a track-id label for video.  A link or point is drawn only where its keypoint scores are *above*
``score_thr``.  Line widths, point radii and the label font grow with the image size
(reference: 3 px body lines on a 640 x 480 image), so overlays read the same at any resolution.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from wholebody.schema import DRAW_SKELETON, PART_COLORS, PART_SLICES, link_color, part_of
from wholebody.types import Person

RIM = (20, 20, 20)
BOX_COLOR = (230, 230, 230)


@dataclass(frozen=True)
class Style:
    """Pixel sizes for one image, derived from its size by :func:`style_for`."""

    body_width: int
    hand_width: int
    face_width: int
    body_radius: float
    hand_radius: float
    face_radius: float
    box_width: int
    font_size: int


def style_for(height: int, width: int) -> Style:
    """Sizes scaled with the image: factor 1 at 640 x 480 (by the square root of the pixel count)."""
    s = max(np.sqrt(height * width / (640 * 480)), 0.25)
    return Style(
        body_width=max(2, round(3 * s)),
        hand_width=max(1, round(2 * s)),
        face_width=max(1, round(1 * s)),
        body_radius=max(1.5, 3.5 * s),
        hand_radius=max(1.0, 2.2 * s),
        face_radius=max(0.8, 1.5 * s),
        box_width=max(1, round(1.5 * s)),
        font_size=max(10, round(14 * s)),
    )


def track_color(track_id: int) -> tuple[int, int, int]:
    """A distinct, saturated colour per track id (golden-ratio hue steps)."""
    hue = (track_id * 0.6180339887) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def draw_people(image_rgb: np.ndarray, people: Sequence[Person], score_thr: float = 0.3,
                draw_boxes: bool = True) -> np.ndarray:
    """A copy of ``image_rgb`` (H, W, 3 uint8) with every person drawn on it (module docstring)."""
    canvas = Image.fromarray(np.ascontiguousarray(image_rgb, dtype=np.uint8))
    draw = ImageDraw.Draw(canvas)
    style = style_for(*image_rgb.shape[:2])
    for person in people:
        if draw_boxes:
            _draw_boxes(draw, person, style)
        _draw_skeleton(draw, person.keypoints, score_thr, style)
    for person in people:  # labels last, so no skeleton covers them
        if person.track_id is not None:
            _draw_label(draw, person, f"ID {person.track_id}", style)
    return np.asarray(canvas)


def _draw_boxes(draw: ImageDraw.ImageDraw, person: Person, style: Style) -> None:
    if person.bbox is not None:
        color = BOX_COLOR if person.track_id is None else track_color(int(person.track_id))
        _rectangle(draw, person.bbox, color, style.box_width)
    for part, box in person.part_boxes.items():
        if box is not None and part in PART_COLORS:
            _rectangle(draw, box, PART_COLORS[part], style.box_width)


def _rectangle(draw: ImageDraw.ImageDraw, box_xywh, color, width: int) -> None:
    """A box outline with a 1 px dark rim on both sides, visible on light and dark backgrounds."""
    x, y, w, h = (float(v) for v in np.asarray(box_xywh).ravel()[:4])
    if w > 0 and h > 0:
        x0, y0, x1, y1 = round(x), round(y), round(x + w), round(y + h)  # Pillow would truncate
        draw.rectangle([x0 - 1, y0 - 1, x1 + 1, y1 + 1], outline=RIM, width=width + 2)
        draw.rectangle([x0, y0, x1, y1], outline=color, width=width)


def _sizes(part: str, style: Style) -> tuple[int, float]:
    if part == "face":
        return style.face_width, style.face_radius
    if part in ("lefthand", "righthand"):
        return style.hand_width, style.hand_radius
    return style.body_width, style.body_radius


def _draw_skeleton(draw: ImageDraw.ImageDraw, keypoints: np.ndarray, score_thr: float, style: Style) -> None:
    visible = keypoints[:, 2] > score_thr
    links = [(i, j) for i, j in DRAW_SKELETON if visible[i] and visible[j]]
    for halo in (True, False):  # a dark halo under each link keeps light colours readable on snow or skin
        for i, j in links:
            part = part_of(j)
            if halo and part == "face":
                continue  # face links are dense: a halo would blacken a small face
            width, _ = _sizes(part, style)
            ends = [tuple(keypoints[i, :2]), tuple(keypoints[j, :2])]
            draw.line(ends, fill=RIM if halo else link_color(i, j), width=width + 2 if halo else width)
    for part, part_slice in PART_SLICES.items():
        _, radius = _sizes(part, style)
        for index in range(part_slice.start, part_slice.stop):
            if visible[index]:
                x, y = keypoints[index, :2]
                color = link_color(index, index) if part == "body" else PART_COLORS[part]
                rim = RIM if radius >= 2 else None  # a rim would swallow tiny points
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=color, outline=rim)


def _draw_label(draw: ImageDraw.ImageDraw, person: Person, text: str, style: Style) -> None:
    if person.bbox is not None:
        x, y = float(person.bbox[0]), float(person.bbox[1])
    else:
        seen = person.keypoints[person.keypoints[:, 2] > 0]
        if not len(seen):
            return
        x, y = seen[:, 0].min(), seen[:, 1].min()
    font = _font(style.font_size)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad = max(2, style.font_size // 5)
    width, height = right - left + 2 * pad, bottom - top + 2 * pad
    x = min(max(x, 0), max(draw.im.size[0] - width, 0))
    y = min(max(y - height, 0), max(draw.im.size[1] - height, 0))  # above the box, inside the image
    draw.rectangle([x, y, x + width, y + height], fill=track_color(int(person.track_id)))
    draw.text((x + pad - left, y + pad - top), text, fill=(0, 0, 0), font=font)

