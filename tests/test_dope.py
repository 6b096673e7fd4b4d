"""DOPE model: output shapes, original-pixel outputs, layouts, anchor-pose buffers, real-time mode."""

import pytest
import torch

from wholebody.models.dope.network import dope_tiny
from wholebody.models.dope.heads import decode_poses

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return dope_tiny().eval()


def test_outputs_per_image_in_original_pixels(model):
    images = [torch.rand(3, 120, 200), torch.rand(3, 300, 90)]
    outputs = model(images)
    assert len(outputs) == 2
    for out, image in zip(outputs, images):
        n = len(out["boxes"])
        assert 0 < n <= model.rpn.settings.post_nms_top_n_test
        assert out["boxes"][:, 2].max() <= image.shape[2] + 1e-3 and out["boxes"][:, 3].max() <= image.shape[1] + 1e-3
        for part, joints in (("body", 23), ("hand", 21), ("face", 68)):
            k = model.num_anchor_poses[part]
            assert out[f"{part}_scores"].shape == (n, k + 1)
            assert torch.allclose(out[f"{part}_scores"].sum(1), torch.ones(n), atol=1e-5)
            assert out[f"{part}_pose2d"].shape == (n, k, joints, 2)
            assert out[f"{part}_pose3d"].shape == (n, k, joints, 3)


def test_pose2d_is_decoded_relative_to_original_boxes(model):
    with torch.no_grad():
        model.set_anchor_poses("face", torch.rand(2, 68, 5))
        model.predictors["face"].pose_pred.weight.zero_()
        model.predictors["face"].pose_pred.bias.zero_()
    out = model([torch.rand(3, 100, 160)])[0]
    expected2d, expected3d = decode_poses(out["boxes"], torch.zeros(len(out["boxes"]), 2, 68 * 5), model.face_anchor_poses)
    assert torch.allclose(out["face_pose2d"], expected2d, atol=1e-3)
    assert torch.allclose(out["face_pose3d"], expected3d)


def test_anchor_poses_are_saved_in_the_state_dict(model):
    state = model.state_dict()
    assert state["body_anchor_poses"].shape == (4, 23, 5)
    with pytest.raises(ValueError, match="anchor poses"):
        model.set_anchor_poses("body", torch.zeros(3, 23, 5))


def test_paper_layout_and_odd_hand_classes():
    paper = dope_tiny(layout="paper", num_anchor_poses={"body": 2, "hand": 2, "face": 2}).eval()
    out = paper([torch.rand(3, 64, 64)])[0]
    assert out["body_pose2d"].shape[2] == 13 and out["face_pose2d"].shape[2] == 84
    with pytest.raises(ValueError, match="even"):
        dope_tiny(num_anchor_poses={"body": 2, "hand": 3, "face": 2})
    with pytest.raises(ValueError, match="layout"):
        dope_tiny(layout="other")


def test_realtime_mode_toggles_settings(model):
    model.set_realtime(True)
    assert model.transform.min_size == 400 and model.rpn.settings.post_nms_top_n_test == 50
    assert model.use_half is False  # CPU: stays float32
    out = model([torch.rand(3, 50, 80)])[0]
    assert len(out["boxes"]) <= 50
    model.set_realtime(False)
    assert model.transform.min_size == 256 and model.rpn.settings.post_nms_top_n_test == 100


def test_training_mode_forward_is_refused(model):
    model.train()
    with pytest.raises(RuntimeError, match="inference"):
        model([torch.rand(3, 32, 32)])
    model.eval()
