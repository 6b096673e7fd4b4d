"""The keypoint-layout type shared by every layout the project reads or writes.

A :class:`KeypointLayout` is pure metadata (names, parts, flip pairs, skeleton) plus
``to_wholebody``: for each of its points, the index of the same anatomical point in the
COCO-WholeBody 133 order, or -1 when COCO-WholeBody has no such point.  Converting between
any two layouts goes through the 133 order, so each layout needs exactly one map.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NUM_WHOLEBODY = 133


@dataclass(frozen=True)
class KeypointLayout:
    """Names, parts, flip pairs and skeleton of one keypoint layout.

    Attributes:
        name: short identifier, e.g. ``"coco_wholebody"``.
        keypoints: point names, in layout order.
        parts: part name -> slice into ``keypoints`` (contiguous parts only).
        flip_pairs: (i, j) pairs that swap under a horizontal flip.
        skeleton: (i, j) links to draw.
        to_wholebody: int array (K,), the COCO-WholeBody index of each point, -1 if none.
    """

    name: str
    keypoints: tuple[str, ...]
    parts: dict[str, slice]
    flip_pairs: tuple[tuple[int, int], ...]
    skeleton: tuple[tuple[int, int], ...]
    to_wholebody: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        index = np.asarray(self.to_wholebody, dtype=np.int64)
        index.setflags(write=False)
        object.__setattr__(self, "to_wholebody", index)
        if index.shape != (len(self.keypoints),):
            raise ValueError(f"{self.name}: to_wholebody has {index.shape}, want ({len(self.keypoints)},)")
        valid = index[index >= 0]
        if valid.size and (valid.max() >= NUM_WHOLEBODY or len(np.unique(valid)) != valid.size):
            raise ValueError(f"{self.name}: to_wholebody must be unique indices < {NUM_WHOLEBODY}")

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

    def flip_permutation(self) -> np.ndarray:
        """Index array ``p`` such that ``points[p]`` relabels a mirrored image's points."""
        perm = np.arange(self.num_keypoints)
        for i, j in self.flip_pairs:
            perm[i], perm[j] = j, i
        return perm

    def from_wholebody_index(self) -> np.ndarray:
        """Inverse map: for each of the 133 points, its index in this layout or -1."""
        inverse = np.full(NUM_WHOLEBODY, -1, dtype=np.int64)
        own = np.flatnonzero(self.to_wholebody >= 0)
        inverse[self.to_wholebody[own]] = own
        return inverse


def to_wholebody(points: np.ndarray, layout: KeypointLayout, fill: float = 0.0) -> np.ndarray:
    """Re-order ``points`` (..., K, C) of ``layout`` into the 133 order (..., 133, C).

    COCO-WholeBody points that ``layout`` lacks are set to ``fill`` in every channel, so a
    score channel reads 0 there: a missing point is never a confident made-up value.
    """
    points = np.asarray(points)
    if points.shape[-2] != layout.num_keypoints:
        raise ValueError(f"{layout.name}: expected {layout.num_keypoints} points, got shape {points.shape}")
    out = np.full(points.shape[:-2] + (NUM_WHOLEBODY, points.shape[-1]), fill, dtype=np.result_type(points, np.float32))
    own = np.flatnonzero(layout.to_wholebody >= 0)
    out[..., layout.to_wholebody[own], :] = points[..., own, :]
    return out


def from_wholebody(points: np.ndarray, layout: KeypointLayout, fill: float = 0.0) -> np.ndarray:
    """Re-order 133-order ``points`` (..., 133, C) into ``layout`` (..., K, C); unmapped -> ``fill``."""
    points = np.asarray(points)
    if points.shape[-2] != NUM_WHOLEBODY:
        raise ValueError(f"expected {NUM_WHOLEBODY} points, got shape {points.shape}")
    out = np.full(points.shape[:-2] + (layout.num_keypoints, points.shape[-1]), fill, dtype=np.result_type(points, np.float32))
    own = np.flatnonzero(layout.to_wholebody >= 0)
    out[..., own, :] = points[..., layout.to_wholebody[own], :]
    return out


def convert(points: np.ndarray, source: KeypointLayout, target: KeypointLayout, fill: float = 0.0) -> np.ndarray:
    """Convert ``points`` (..., K_source, C) to ``target``'s order through the 133 layout."""
    return from_wholebody(to_wholebody(points, source, fill), target, fill)
