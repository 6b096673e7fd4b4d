"""DOPE RoI targets: part targets in input pixels, anchor classes by hand side, RoI matching."""

import numpy as np
import torch

from wholebody.data.adapters.sample import PartInstance
from wholebody.models.dope.transform import Geometry
from wholebody.train.dope.targets import assign_rois, match_rois, part_targets


def hand(is_right, x0=0.0):
    pose = np.stack([np.linspace(x0, x0 + 20, 21), np.linspace(0, 40, 21)], 1)
    return PartInstance("hand", pose, np.ones(21, bool), box=np.array([x0, 0.0, x0 + 20, 40.0]), is_right=is_right)


def test_part_targets_scale_and_hand_sides():
    anchors = np.zeros((4, 21, 5))
    anchors[..., :2] = np.stack([np.linspace(0, 1, 21), np.linspace(0, 1, 21)], 1)  # every class fits perfectly
    geometry = Geometry(original_size=(100, 200), resized_size=(50, 100))  # scale 0.5
    targets = part_targets([hand(True), hand(False, 50.0), PartInstance("face", np.zeros((68, 2)), np.zeros(68, bool))],
                           "hand", anchors, geometry, hand_classes_per_side=2)
    assert len(targets) == 2
    assert torch.allclose(targets.boxes, torch.tensor([[0.0, 0.0, 10.0, 20.0], [25.0, 0.0, 35.0, 20.0]]))
    assert targets.classes[0] < 2 <= targets.classes[1]  # right hand -> right classes, left -> left classes
    assert targets.pose3d.shape == (2, 21, 3) and not targets.visible3d.any()


def test_match_and_sample_rois():
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    rois = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 19.0], [50.0, 50.0, 60.0, 60.0]] + [[100.0, 100, 110, 110]] * 10)
    assert match_rois(rois, gt).tolist()[:3] == [0, 0, -1]  # IoU 1 and 0.53 positive, 0 background
    assert match_rois(rois, torch.zeros((0, 4))).eq(-1).all()
    from wholebody.train.dope.targets import PartTargets

    targets = PartTargets(gt, torch.zeros(1, dtype=torch.int64), torch.zeros(1, 2, 2), torch.ones(1, 2, dtype=torch.bool),
                          torch.zeros(1, 2, 3), torch.zeros(1, 2, dtype=torch.bool), torch.ones(1))
    chosen, matched = assign_rois(rois, targets, batch_size=8, positive_fraction=0.25)
    assert len(chosen) == 8 and (matched >= 0).sum() == 2
    assert set(chosen[matched >= 0].tolist()) == {0, 1}
