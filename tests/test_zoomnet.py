"""ZoomNet and the HRNet-133 baseline: shapes, part-box decoding, hand mirroring, keypoints back to
original pixels through the crop affine, and the top-down prediction API."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wholebody.models.zoomnet.hrnet133 import hrnet133_tiny
from wholebody.models.registry import build_model
from wholebody.models.zoomnet.topdown import predict_people
from wholebody.models.zoomnet.network import ZoomNetConfig, decode_part_boxes, part_rois, zoomnet_tiny
from wholebody.schema import PART_SLICES
from wholebody.models.zoomnet.decode import heatmaps_to_keypoints
from wholebody.train.zoomnet.targets import gaussian_heatmaps
from wholebody.models.zoomnet.transforms import apply_affine, box_to_center_size, crop_matrix, keypoints_to_original
from wholebody.types import Person

torch.set_num_threads(1)


def test_output_shapes_with_decoded_and_given_rois():
    model = zoomnet_tiny(input_size=(128, 96), width=4).eval()
    images = torch.rand(2, 3, 128, 96) * 255
    with torch.no_grad():
        out = model(images)
        given = model(images, rois=torch.tensor([[[10.0, 10, 40, 40], [0, 50, 20, 70], [60, 50, 90, 80]]] * 2))
    assert out["body"].shape == (2, 23, 32, 24) and out["boxes"].shape == (2, 15, 32, 24)
    assert out["face"].shape == (2, 68, 32, 32)
    assert out["lefthand"].shape == out["righthand"].shape == (2, 21, 32, 32)
    assert out["rois"].shape == (2, 3, 4) and out["box_scores"].shape == (2, 3)
    assert torch.equal(given["rois"][0, 0], torch.tensor([10.0, 10, 40, 40]))
    assert torch.isfinite(given["face"]).all()


def test_hrnet133_shapes():
    with torch.no_grad():
        out = hrnet133_tiny(input_size=(128, 96), width=4).eval()(torch.rand(1, 3, 128, 96) * 255)
    assert out["wholebody"].shape == (1, 133, 32, 24)


def box_maps_for(boxes: list[list[float]], size=(32, 24), stride=4) -> torch.Tensor:
    """Peaked box maps (1, 15, h, w) for three x1y1x2y2 boxes in crop pixels."""
    points = []
    for x1, y1, x2, y2 in boxes:
        points += [[x1, y1], [x2, y1], [x1, y2], [x2, y2], [(x1 + x2) / 2, (y1 + y2) / 2]]
    maps, _ = gaussian_heatmaps(torch.tensor(points) / stride, torch.ones(15), size, 1.0)
    return maps[None]


def test_part_boxes_decode_from_corner_and_centre_peaks():
    # Corners and centres on cell centres (4 k + 2 pixels) decode exactly.
    boxes = [[10.0, 6.0, 42.0, 30.0], [2.0, 50.0, 18.0, 74.0], [54.0, 90.0, 86.0, 114.0]]
    decoded, scores = decode_part_boxes(box_maps_for(boxes), stride=4)
    assert torch.allclose(decoded[0], torch.tensor(boxes))
    assert torch.allclose(scores, torch.ones(1, 3))


def test_part_box_is_centred_and_corner_distances_are_peak_weighted():
    maps = box_maps_for([[10.0, 6.0, 42.0, 30.0]] * 3)
    maps[0, 3] = maps[0, 3].roll(2, dims=-1) * 0.2  # a weak, wrong bottom-right corner 8 px to the right
    decoded, _ = decode_part_boxes(maps, stride=4)
    weights = torch.tensor([1.0, 1.0, 1.0, 0.2]) / 3.2
    half_w = (weights * torch.tensor([16.0, 16.0, 16.0, 24.0])).sum()
    assert torch.allclose(decoded[0, 0], torch.stack([26 - half_w, torch.tensor(6.0), 26 + half_w, torch.tensor(30.0)]))


def test_part_rois_are_enlarged_squares():
    rois = part_rois(torch.tensor([[10.0, 20.0, 30.0, 60.0], [0.0, 0.0, 1.0, 1.0]]), enlarge=1.25, min_size=8.0)
    assert torch.allclose(rois, torch.tensor([[-5.0, 15.0, 45.0, 65.0], [-3.5, -3.5, 4.5, 4.5]]))


def test_one_hand_head_sees_left_hands_mirrored():
    model = zoomnet_tiny(input_size=(128, 96), width=4).eval()
    seen = []
    model.hand_head.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    roi = [30.0, 40.0, 62.0, 72.0]
    with torch.no_grad():
        out = model(torch.rand(1, 3, 128, 96) * 255, rois=torch.tensor([[roi, roi, roi]]))
    left_input, right_input = seen[0][0], seen[0][1]  # hands are batched left then right
    assert torch.allclose(left_input, right_input.flip(-1))
    # ... and the left output is flipped back: the same crop gives mirrored heatmaps
    assert not torch.allclose(out["lefthand"], out["righthand"])


def test_keypoints_return_to_original_pixels_through_the_crop_affine():
    """A synthetic peak placed at an original-image point decodes back to that point."""
    config = ZoomNetConfig(input_size=(128, 96), part_crop=32)
    box = (200.0, 100.0, 60.0, 100.0)  # person box in a large original image
    center, size = box_to_center_size(box, 96 / 128)
    matrix = crop_matrix(center, size, 0.0, config.input_size)
    nose, face_point = np.array([231.3, 118.9]), np.array([228.6, 121.7])
    # body heatmap (stride 4) with a Gaussian at the nose's crop position
    body = np.zeros((23, 32, 24), np.float32)
    body[0] = gaussian_heatmaps(torch.from_numpy(apply_affine(nose, matrix)[None] / 4), torch.ones(1), (32, 24), 1.0)[0][0]
    # face heatmap over a RoI in crop pixels with a Gaussian at face point 0
    roi = torch.tensor([[[30.0, 10.0, 62.0, 42.0], [0, 0, 8, 8], [0, 0, 8, 8]]])
    face = np.zeros((68, 32, 32), np.float32)
    cells = (apply_affine(face_point, matrix) - [30.0, 10.0]) / 32 * 32
    face[0] = gaussian_heatmaps(torch.from_numpy(cells[None]), torch.ones(1), (32, 32), 1.0)[0][0]
    outputs = {"body": torch.from_numpy(body)[None], "face": torch.from_numpy(face)[None],
               "lefthand": torch.zeros(1, 21, 32, 32), "righthand": torch.zeros(1, 21, 32, 32), "rois": roi}
    crop_points = heatmaps_to_keypoints(outputs, "zoomnet", stride=4, method="dark")[0].numpy()
    original = keypoints_to_original(crop_points, matrix)
    assert original.shape == (133, 3)
    assert np.allclose(original[0, :2], nose, atol=0.1)
    assert np.allclose(original[PART_SLICES["face"].start, :2], face_point, atol=0.1)
    assert original[0, 2] == pytest.approx(body[0].max())  # score: the peak cell value


def test_predict_people_returns_original_pixel_people():
    model = build_model("zoomnet", tiny=True, input_size=(128, 96))
    image = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    people = predict_people(model, image, np.array([[20, 10, 60, 100], [90, 30, 40, 80]]), box_scores=[0.9, 0.5])
    assert len(people) == 2 and all(isinstance(p, Person) for p in people)
    assert all(np.isfinite(p.keypoints).all() and (p.keypoints[:, 2] >= 0).all() for p in people)
    assert set(people[0].part_boxes) == {"face", "lefthand", "righthand"}
    assert 0 <= people[0].score <= 0.9


def test_registry_round_trips_configs():
    model = build_model("zoomnet", tiny=True, input_size=(128, 96))
    rebuilt = build_model("zoomnet", config=model.config.to_dict())
    assert rebuilt.config == model.config
    rebuilt.load_state_dict(model.state_dict())
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("dope3000")


def test_estimator_protocol_from_a_checkpoint(tmp_path):
    from wholebody.models.zoomnet.topdown import TopDownEstimator
    from wholebody.models.checkpoints import save_checkpoint

    model = build_model("hrnet133", tiny=True, input_size=(64, 48))
    save_checkpoint(tmp_path / "m.pt", {"architecture": "hrnet133", "config": model.config.to_dict(),
                                        "model": model.state_dict()})
    estimator = TopDownEstimator(str(tmp_path / "m.pt"))
    image = np.random.default_rng(1).integers(0, 255, (80, 100, 3), dtype=np.uint8)
    people = estimator(image, person_boxes=[[10, 10, 30, 50], [50, 5, 0, 40], [40, 20, 50, 50]],
                       person_scores=[0.2, 0.9, 0.8])
    assert len(people) == 2  # the zero-width box is dropped
    assert people[0].score >= people[1].score
    assert all(p.part_boxes == {} for p in people)  # the baseline has no part boxes
    assert estimator.flip_test  # no train_config: assume flip augmentation, so flip test
    save_checkpoint(tmp_path / "plain.pt", {"architecture": "hrnet133", "config": model.config.to_dict(),
                                            "model": model.state_dict(), "train_config": {"augment": False}})
    assert not TopDownEstimator(str(tmp_path / "plain.pt")).flip_test  # never saw mirrored crops
