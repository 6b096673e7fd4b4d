"""The hand expert on real hands: side, the mirrored pass, test-time averaging, and its crops."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from wholebody.experts.crops import SquareCrop
from wholebody.experts.landmarks.hands import INPUT_SIZE, points_crop

pytest.importorskip("mediapipe", reason="the hand expert needs mediapipe==0.10.14's bundled models")
pytest.importorskip("ai_edge_litert", reason="the hand expert runs the models with ai-edge-litert")

from wholebody.experts.benchmark import read_rgb  # noqa: E402
from wholebody.experts.landmarks.hands import HandExpert, _run, wrist_crop  # noqa: E402

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "hand_tta.py"


def _bare_right_hand(fixtures_dir):
    """Fixture 197388 and the wrist crop of person 531914's bare right hand (true wrist and elbow)."""
    folder = fixtures_dir / "coco_wholebody"
    ann = next(a for a in json.loads((folder / "test_coco_wholebody.json").read_text())["annotations"] if a["id"] == 531914)
    body = np.array(ann["keypoints"], float).reshape(17, 3)
    return read_rgb(folder / "000000197388.jpg"), body, wrist_crop(body[10, :2], body[8, :2], 1.3, 0.35)


def test_hand_expert_reads_the_persons_side_on_an_unmirrored_photo(fixtures_dir):
    """531914's bare right hand is a right hand; in the mirrored photo the same hand reads as a left hand."""
    image, body, crop = _bare_right_hand(fixtures_dir)
    for expert in (HandExpert(), HandExpert(models=("hand_landmark_full", "hand_landmark_lite"), mirror=True)):
        hand = expert(image, crop)
        assert hand.presence > 0.5 and hand.is_right
        mirror = np.ascontiguousarray(image[:, ::-1])
        flip = np.array([image.shape[1], 0.0])
        wrist, elbow = flip + body[10, :2] * [-1, 1], flip + body[8, :2] * [-1, 1]
        mirrored = expert(mirror, wrist_crop(wrist, elbow, 1.3, 0.35))
        assert mirrored.presence > 0.5 and not mirrored.is_right


def test_mirrored_pass_is_read_back_in_the_crops_frame(fixtures_dir):
    """The flip test's second pass agrees with the first: points within 8 crop px (44 px if x were
    left mirrored), the same side, and world points within 1.5 cm."""
    image, _, crop = _bare_right_hand(fixtures_dir)
    model = HandExpert().models[0]
    pixels = crop.extract(image).astype(np.float32) / 255.0
    plain, mirrored = _run(model, pixels, False), _run(model, pixels, True)
    assert np.linalg.norm(plain[0][:, :2] - mirrored[0][:, :2], axis=1).mean() < 8.0
    assert plain[2] > 0.5 and mirrored[2] > 0.5
    assert np.linalg.norm(plain[3] - mirrored[3], axis=1).mean() < 0.015


def test_averaging_models_and_mirror_lowers_error_on_rhd_hands(fixtures_dir):
    """The default hand TTA (full + lite, each with its mirror) beats ``full`` alone on the RHD
    fixture hands (measured: 4.14 vs 4.49 px mean error over 3 hands x 8 jittered crops)."""
    spec = importlib.util.spec_from_file_location("hand_tta", BENCHMARK)
    hand_tta = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hand_tta)
    hands = hand_tta.rhd_hands(fixtures_dir / "rhd" / "test_rhd.json")
    single, _ = hand_tta.evaluate(HandExpert(2, ("hand_landmark_full",), False), hands, crops=8)
    averaged, _ = hand_tta.evaluate(HandExpert(2, ("hand_landmark_full", "hand_landmark_lite"), True), hands, crops=8)
    assert averaged < single and averaged < 4.5, (averaged, single)


def test_hand_expert_needs_a_model():
    with pytest.raises(ValueError, match="at least one"):
        HandExpert(models=())


def test_points_crop_holds_the_hand_fingers_up():
    """A hand pointing right (wrist at the left) gets a crop turned so its fingers point up."""
    wrist = np.array([[100.0, 200.0]])
    fingers = np.array([[100.0 + 10 * (1 + k % 4), 200.0 + 4 * (k // 4 - 2)] for k in range(20)])
    points = np.concatenate([wrist, fingers])
    crop = points_crop(points, side_factor=1.6)
    assert isinstance(crop, SquareCrop) and crop.size == INPUT_SIZE
    assert crop.side == pytest.approx(1.6 * 40.0)
    inside = crop.to_crop(points)
    assert (inside >= 0).all() and (inside <= INPUT_SIZE).all()
    # the middle-finger base, 10 px right of the wrist, lies straight above it in the crop
    np.testing.assert_allclose(inside[0] - inside[9], [0.0, 10.0 * INPUT_SIZE / crop.side], atol=1e-9)
    np.testing.assert_allclose(crop.to_image(inside), points, atol=1e-9)
