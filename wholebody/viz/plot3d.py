"""A 3D plot (PNG, matplotlib Agg, no display needed) of one person's 3D keypoints in metres.

The body (23 body + foot points, root-relative, camera axes x right / y down / z away) is the
reference frame.  Hands (wrist-relative) are moved so their wrist lands on the body's wrist,
and the face (centroid-relative) so its centroid lands on the body's nose: the face centroid
sits a few centimetres behind the nose tip, so the face is drawn slightly forward; that is
accepted for a picture.  Without body 3D, each part is drawn around the origin in its own frame.

Plot axes, a right-handed frame: horizontal ``x`` (right), depth ``z`` (away from the camera),
vertical ``-y`` (up), all in metres with equal scale.  The default view looks from roughly the
camera's side, turned a little to show depth.  A point is drawn when its 2D score is above
``score_thr``.
"""

from __future__ import annotations

import os

import numpy as np

from wholebody.data.atomic import atomic_open
from wholebody.schema import DRAW_SKELETON, PART_COLORS, PART_SLICES, link_color
from wholebody.types import Person

LEFT_WRIST, RIGHT_WRIST, NOSE = 9, 10, 0
_ANCHORS = {"lefthand": LEFT_WRIST, "righthand": RIGHT_WRIST}


def assemble_3d(person: Person, score_thr: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """All 133 points in one frame (metres, body frame when body 3D exists) and a drawable mask.

    Returns:
        points: (133, 3) metres; NaN where no 3D exists.
        drawable: (133,) bool, 3D present and 2D score above ``score_thr``.
    """
    points = np.full((133, 3), np.nan)
    body = person.keypoints_3d.get("body")
    if body is not None:
        points[:23] = np.asarray(body, dtype=np.float64)[:23]
    for part in ("face", "lefthand", "righthand"):
        local = person.keypoints_3d.get(part)
        if local is None:
            continue
        local = np.asarray(local, dtype=np.float64)
        anchor_index = NOSE if part == "face" else _ANCHORS[part]
        origin_in_local = np.nanmean(local, axis=0) if part == "face" else local[0]
        anchor = points[anchor_index] if body is not None else np.zeros(3)
        if not np.isfinite(anchor).all():
            anchor = np.zeros(3)
        points[PART_SLICES[part]] = local - origin_in_local + anchor
    drawable = np.isfinite(points).all(axis=1) & (person.keypoints[:, 2] > score_thr)
    return points, drawable


def plot_person_3d(person: Person, path: str | os.PathLike, title: str = "", score_thr: float = 0.3,
                   size_px: int = 640) -> None:
    """Write a PNG of ``person``'s 3D skeleton to ``path`` (atomically).  Axes: module docstring."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    points, drawable = assemble_3d(person, score_thr)
    # Plot coordinates: (x, z, -y) is a proper rotation of the camera frame, so still right-handed.
    plot = np.stack([points[:, 0], points[:, 2], -points[:, 1]], axis=1)
    dpi = 100
    figure = Figure(figsize=(size_px / dpi, size_px / dpi), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(projection="3d")
    for i, j in DRAW_SKELETON:
        if drawable[i] and drawable[j]:
            width = 0.8 if i >= 23 else 2.2
            axes.plot(*plot[[i, j]].T, color=np.array(link_color(i, j)) / 255, linewidth=width)
    for part, part_slice in PART_SLICES.items():
        indices = np.arange(part_slice.start, part_slice.stop)[drawable[part_slice]]
        if len(indices):
            colors = [np.array(link_color(i, i) if part == "body" else PART_COLORS[part]) / 255 for i in indices]
            edge = "0.3" if part == "face" else "none"  # the white face points need a rim on white
            axes.scatter(*plot[indices].T, s=6 if part != "body" else 16, c=colors, edgecolors=edge,
                         linewidths=0.3, depthshade=False)
    _equal_axes(axes, plot[drawable])
    for axis in (axes.xaxis, axes.yaxis, axes.zaxis):
        axis.set_major_locator(MaxNLocator(5))
    axes.set_xlabel("x (m, right)")
    axes.set_ylabel("z (m, away from camera)")
    axes.set_zlabel("-y (m, up)")
    axes.view_init(elev=12, azim=-65)
    axes.set_title(title or "3D keypoints (metres, camera axes)", fontsize=10)
    if not drawable.any():
        axes.text2D(0.5, 0.5, "no 3D keypoints above the score threshold", ha="center", transform=axes.transAxes)
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.2)


def _equal_axes(axes, points: np.ndarray) -> None:
    """Same scale on all three axes, framing ``points`` (or a 2 m cube when there are none)."""
    if len(points):
        centre = (points.max(axis=0) + points.min(axis=0)) / 2
        half = max(float((points.max(axis=0) - points.min(axis=0)).max()) / 2 * 1.1, 0.05)
    else:
        centre, half = np.zeros(3), 1.0
    axes.set_xlim(centre[0] - half, centre[0] + half)
    axes.set_ylim(centre[1] - half, centre[1] + half)
    axes.set_zlim(centre[2] - half, centre[2] + half)
    axes.set_box_aspect((1, 1, 1))
