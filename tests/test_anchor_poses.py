"""Anchor poses by masked k-means, hand sides, and class assignment."""

import numpy as np
import pytest

from wholebody.models.dope.anchor_poses import assign_anchor_class, fit_anchor_poses, fit_hand_anchor_poses, kmeans, mirror_hand


def _two_clusters(n=20, joints=3, seed=0):
    rng = np.random.default_rng(seed)
    centres3d = np.array([np.zeros((joints, 3)), np.ones((joints, 3))])
    labels = np.arange(n) % 2
    pose3d = centres3d[labels] + rng.normal(0, 0.01, (n, joints, 3))
    pose2d = np.where(labels[:, None, None] == 0, 0.25, 0.75) + rng.normal(0, 0.01, (n, joints, 2))
    return pose2d, pose3d, labels


def test_kmeans_recovers_separated_clusters():
    _, pose3d, truth = _two_clusters()
    labels = kmeans(pose3d, np.ones(pose3d.shape[:2], bool), 2)
    assert len(set(zip(labels.tolist(), truth.tolist()))) == 2


def test_fit_anchor_poses_means_and_missing_data():
    pose2d, pose3d, truth = _two_clusters()
    vis = np.ones(pose2d.shape[:2], bool)
    vis3d = vis.copy()
    vis3d[:4] = False  # four samples without 3D are assigned by 2D
    vis[0, 0] = False
    anchors = fit_anchor_poses(pose2d, vis, pose3d, vis3d, 2)
    assert anchors.shape == (2, 3, 5)
    order = np.argsort(anchors[:, 0, 2])
    assert np.allclose(anchors[order, :, :2], [[[0.25] * 2] * 3, [[0.75] * 2] * 3], atol=0.02)
    assert np.allclose(anchors[order, :, 2:], [[[0.0] * 3] * 3, [[1.0] * 3] * 3], atol=0.02)


def test_fit_without_3d_clusters_in_2d():
    pose2d, _, _ = _two_clusters()
    anchors = fit_anchor_poses(pose2d, np.ones(pose2d.shape[:2], bool), None, None, 2)
    assert np.allclose(np.sort(anchors[:, 0, 0]), [0.25, 0.75], atol=0.02)
    assert np.all(anchors[..., 2:] == 0)


def test_hand_anchors_right_then_mirrored_left():
    pose2d, pose3d, _ = _two_clusters()
    is_right = np.arange(len(pose2d)) % 3 != 0
    anchors = fit_hand_anchor_poses(pose2d, np.ones(pose2d.shape[:2], bool), pose3d, np.ones(pose2d.shape[:2], bool), is_right, 4)
    assert anchors.shape == (4, 3, 5)
    mirrored2d, mirrored3d = mirror_hand(anchors[:2, :, :2], anchors[:2, :, 2:])
    assert np.allclose(anchors[2:, :, :2], mirrored2d) and np.allclose(anchors[2:, :, 2:], mirrored3d)
    with pytest.raises(ValueError, match="even"):
        fit_hand_anchor_poses(pose2d, np.ones(pose2d.shape[:2], bool), None, None, is_right, 3)


def test_assign_anchor_class_3d_then_2d_and_allowed_range():
    anchors = np.zeros((3, 1, 5))
    anchors[1, 0, :2] = 1.0
    anchors[2, 0, 2:] = 1.0
    pose2d = np.array([[[1.0, 1.0]], [[1.0, 1.0]]])
    pose3d = np.array([[[1.0, 1.0, 1.0]], [[0.0, 0.0, 0.0]]])
    vis3d = np.array([[True], [False]])
    classes = assign_anchor_class(anchors, pose2d, np.ones((2, 1), bool), pose3d, vis3d)
    assert classes.tolist() == [2, 1]  # first by 3D, second (no 3D) by 2D
    assert assign_anchor_class(anchors, pose2d, np.ones((2, 1), bool), None, None, allowed=slice(2, 3)).tolist() == [2, 2]
