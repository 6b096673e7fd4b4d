"""DOPE part layouts: both map onto COCO-WholeBody, landmark indices point at the right joints."""

import numpy as np
import pytest

from wholebody.models.dope.layout import PAPER, WHOLEBODY, get_layout
from wholebody.schema import KEYPOINT_NAMES


@pytest.mark.parametrize("layout", [WHOLEBODY, PAPER])
def test_landmarks_are_the_named_joints(layout):
    body = layout.parts["body"]
    names = [KEYPOINT_NAMES[body.to_wholebody[i]] for i in (*layout.body_hips, *layout.body_wrists)]
    assert names == ["left_hip", "right_hip", "left_wrist", "right_wrist"]
    assert layout.parts["hand"].keypoints[layout.hand_wrist] == "hand_root"
    assert layout.num_anchor_poses["hand"] % 2 == 0


def test_wholebody_layout_covers_133_and_paper_sizes():
    covered = np.concatenate([WHOLEBODY.parts[p].to_wholebody for p in ("body", "hand", "face")])
    assert sorted(covered.tolist()) == list(range(23)) + list(range(23, 91)) + list(range(112, 133))
    assert [PAPER.num_joints(p) for p in ("body", "hand", "face")] == [13, 21, 84]
    assert PAPER.parts["body"].keypoints[PAPER.body_head] == "head"


def test_root_3d():
    points = np.arange(23 * 3, dtype=float).reshape(23, 3)
    assert np.allclose(WHOLEBODY.root_3d("body", points), points[[11, 12]].mean(0))
    assert np.allclose(WHOLEBODY.root_3d("hand", points[:21]), points[0])
    assert np.allclose(WHOLEBODY.root_3d("face", points), points.mean(0))


def test_get_layout():
    assert get_layout("paper") is PAPER and get_layout(WHOLEBODY) is WHOLEBODY
    with pytest.raises(ValueError, match="wholebody"):
        get_layout("coco")
