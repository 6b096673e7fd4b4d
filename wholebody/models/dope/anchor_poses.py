"""Anchor poses: k-means clusters of training poses, the classes of DOPE's pose classifiers.

An anchor pose is stored as a (J, 5) array: columns 0-1 the 2D pose in *box-normalised* units
(fraction of the part box's width / height, measured from its top-left corner), columns 2-4 the
3D pose in metres in the part's frame (``models.dope.layout``).  A part with K classes stores (K, J, 5).

Clustering runs on the root-relative 3D poses (mean per-joint distance, joints missing in a
sample are left out of that sample's distances); samples without any 3D are then assigned by
their box-normalised 2D pose.  When no sample has 3D the clustering falls back to 2D and the 3D
anchors stay 0.  Each anchor's 2D and 3D are per-joint means over its members (masked), with
the overall mean where a cluster never observed a joint.

Hands: the first K/2 classes are right hands, the last K/2 left hands.  Left hands are mirrored
(2D ``x -> 1 - x``, 3D ``X -> -X``) and clustered with the right ones; the left anchors are the
mirror images of the right anchors, so both sides share the same shapes.
"""

from __future__ import annotations

import numpy as np


def _masked_distances(features: np.ndarray, mask: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(N, J, D) samples with (N, J) masks vs (K, J, D) centres -> (N, K) mean joint distance."""
    dist = np.linalg.norm(features[:, None] - centres[None], axis=-1)  # (N, K, J)
    weight = mask[:, None, :].astype(np.float64)
    return (dist * weight).sum(-1) / np.maximum(weight.sum(-1), 1)


def _masked_mean(values: np.ndarray, mask: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Per-joint mean of (N, J, D) values over (N, J) masks; ``fallback`` (J, D) where none."""
    weight = mask[..., None].astype(np.float64)
    count = weight.sum(0)
    mean = (values * weight).sum(0) / np.maximum(count, 1)
    return np.where(count > 0, mean, fallback)


def kmeans(features: np.ndarray, mask: np.ndarray, k: int, iterations: int = 50, seed: int = 0) -> np.ndarray:
    """Masked k-means with k-means++ seeding: (N, J, D), (N, J) -> labels (N,) in 0..k-1.

    With fewer distinct samples than ``k`` some clusters are duplicates of others; every label
    is still valid.
    """
    n = len(features)
    if n == 0:
        raise ValueError("kmeans: no training poses to cluster")
    rng = np.random.default_rng(seed)
    fallback = _masked_mean(features, mask, np.zeros(features.shape[1:]))
    centres = [features[rng.integers(n)]]
    for _ in range(1, k):
        d = _masked_distances(features, mask, np.stack(centres)).min(axis=1) ** 2
        pick = rng.choice(n, p=d / d.sum()) if d.sum() > 0 else rng.integers(n)
        centres.append(features[pick])
    centres = np.where(mask.any(0)[None, :, None], np.stack(centres), fallback[None])
    labels = np.full(n, -1)
    for _ in range(iterations):
        new_labels = _masked_distances(features, mask, centres).argmin(axis=1)
        if np.array_equal(new_labels, labels):
            break
        labels = new_labels
        for c in range(k):
            members = labels == c
            if members.any():
                centres[c] = _masked_mean(features[members], mask[members], centres[c])
    return labels


def fit_anchor_poses(pose2d: np.ndarray, visible2d: np.ndarray, pose3d: np.ndarray | None, visible3d: np.ndarray | None,
                     k: int, seed: int = 0) -> np.ndarray:
    """Anchor poses (k, J, 5) from N training instances of one part.

    Args:
        pose2d: (N, J, 2) box-normalised 2D poses; visible2d: (N, J) bool.
        pose3d: (N, J, 3) root-relative 3D in metres, or None; visible3d: (N, J) bool.
        k: number of anchor poses.
    """
    n, joints = pose2d.shape[:2]
    if pose3d is None:
        pose3d, visible3d = np.zeros((n, joints, 3)), np.zeros((n, joints), bool)
    has3d = visible3d.any(axis=1)
    if has3d.any():
        labels = np.full(n, -1)
        labels[has3d] = kmeans(pose3d[has3d], visible3d[has3d], k, seed=seed)
        mean2d = np.stack([_masked_mean(pose2d[labels == c], visible2d[labels == c], np.full((joints, 2), 0.5))
                           for c in range(k)])
        if (~has3d).any():
            labels[~has3d] = _masked_distances(pose2d[~has3d], visible2d[~has3d], mean2d).argmin(axis=1)
    else:
        labels = kmeans(pose2d, visible2d, k, seed=seed)
    overall2d = _masked_mean(pose2d, visible2d, np.full((joints, 2), 0.5))
    overall3d = _masked_mean(pose3d, visible3d, np.zeros((joints, 3)))
    anchors = np.zeros((k, joints, 5))
    for c in range(k):
        members = labels == c
        anchors[c, :, :2] = _masked_mean(pose2d[members], visible2d[members], overall2d)
        anchors[c, :, 2:] = _masked_mean(pose3d[members], visible3d[members], overall3d)
    return anchors


def mirror_hand(pose2d: np.ndarray | None, pose3d: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Mirror box-normalised 2D (x -> 1 - x) and 3D (X -> -X) hand poses: left <-> right."""
    flipped2d = None if pose2d is None else np.concatenate([1 - pose2d[..., :1], pose2d[..., 1:]], axis=-1)
    flipped3d = None if pose3d is None else np.concatenate([-pose3d[..., :1], pose3d[..., 1:]], axis=-1)
    return flipped2d, flipped3d


def fit_hand_anchor_poses(pose2d: np.ndarray, visible2d: np.ndarray, pose3d: np.ndarray | None, visible3d: np.ndarray | None,
                          is_right: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Hand anchor poses (k, J, 5): k/2 right-hand anchors, then their k/2 mirrored left ones."""
    if k % 2:
        raise ValueError(f"the hand branch needs an even number of anchor poses (right + left), got {k}")
    left = ~np.asarray(is_right, bool)
    pose2d = pose2d.copy()
    pose2d[left] = mirror_hand(pose2d[left], None)[0]
    if pose3d is not None:
        pose3d = pose3d.copy()
        pose3d[left] = mirror_hand(None, pose3d[left])[1]
    right = fit_anchor_poses(pose2d, visible2d, pose3d, visible3d, k // 2, seed)
    left2d, left3d = mirror_hand(right[..., :2], right[..., 2:])
    return np.concatenate([right, np.concatenate([left2d, left3d], axis=-1)], axis=0)


def assign_anchor_class(anchors: np.ndarray, pose2d: np.ndarray, visible2d: np.ndarray, pose3d: np.ndarray | None,
                        visible3d: np.ndarray | None, allowed: slice | None = None) -> np.ndarray:
    """Index of the closest anchor pose per instance (the classification target).

    Uses the mean per-joint 3D distance where an instance has 3D, else box-normalised 2D.
    ``allowed`` restricts the candidate classes (e.g. one hand side); the returned index is
    into the full anchor list.

    Args:
        anchors: (K, J, 5); pose2d (N, J, 2) box-normalised; pose3d (N, J, 3) or None.
    Returns:
        (N,) int64.
    """
    offset = 0 if allowed is None else (allowed.start or 0)
    candidates = anchors if allowed is None else anchors[allowed]
    distance = _masked_distances(pose2d, visible2d, candidates[..., :2])
    if pose3d is not None:
        has3d = visible3d.any(axis=1)
        if has3d.any():
            distance[has3d] = _masked_distances(pose3d[has3d], visible3d[has3d], candidates[..., 2:])
    return distance.argmin(axis=1).astype(np.int64) + offset
