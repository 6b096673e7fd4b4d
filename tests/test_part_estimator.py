"""The estimator outputs faces and hands with no body: face-only (300W) and hand-only (RHD) fixture images."""

from __future__ import annotations

import numpy as np
import pytest

from wholebody.schema import PART_SLICES

pytest.importorskip("ai_edge_litert")


@pytest.fixture(scope="module")
def estimator():
    from wholebody.experts import WholeBodyEstimator

    return WholeBodyEstimator(num_threads=1, body_model="full", hand_model="lite", hand_mirror=False)


def _rgb(path):
    import cv2

    return np.ascontiguousarray(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))


def _nearest_error(people, parts, truth):
    errors = [np.linalg.norm(p.keypoints[PART_SLICES[part], :2] - truth, axis=1).mean()
              for p in people for part in parts if p.part_boxes.get(part) is not None]
    return min(errors) if errors else None


def test_face_alone_is_output(fixtures_dir, estimator):
    from wholebody.data.adapters.face300w import load_300w

    for sample in load_300w(fixtures_dir / "300w" / "test_300w.json"):
        truth = sample.instances[0].pose2d
        error = _nearest_error(estimator(_rgb(sample.image_path)), ("face",), truth)
        assert error is not None, f"no face output for {sample.image_path.name}"
        eye_span = np.linalg.norm(truth[36] - truth[45])
        assert error < 0.15 * eye_span, (sample.image_path.name, error, eye_span)


def test_hand_alone_is_output(fixtures_dir, estimator):
    from wholebody.data.adapters.rhd import load_rhd

    for sample in load_rhd(fixtures_dir / "rhd" / "test_rhd.json"):
        hand = sample.instances[0]
        error = _nearest_error(estimator(_rgb(sample.image_path)), ("lefthand", "righthand"), hand.pose2d)
        size = float((hand.pose2d.max(axis=0) - hand.pose2d.min(axis=0)).max())
        assert error is not None and error < 0.15 * size, (sample.image_path.name, error, size)


def test_part_detection_can_be_switched_off(fixtures_dir):
    from wholebody.data.adapters.face300w import load_300w
    from wholebody.experts import WholeBodyEstimator

    plain = WholeBodyEstimator(num_threads=1, body_model="full", hand_zoom=False, part_detect=False)
    assert plain.parts is None
    sample = load_300w(fixtures_dir / "300w" / "test_300w.json")[0]
    assert all(p.score > 0 for p in plain(_rgb(sample.image_path)))  # no part-only entries
