"""Reuse of a body-expert result asked for twice on one image (``experts.runtime.reuse``):
the estimator's outputs are exactly those of the path that runs every crop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wholebody.experts.runtime.reuse import ImageRuns

PHOTOS = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "photos"


class CountingExpert:
    """An expert whose answer depends on its arguments; counts its runs."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, image, box, angle=0.0):
        self.runs += 1
        return {"points": np.asarray(box, dtype=np.float64) * 2 + image.mean() + angle}


def test_same_arguments_on_one_image_run_once():
    runs, expert, image = ImageRuns(), CountingExpert(), np.zeros((4, 4, 3), np.uint8)
    runs.start(image)
    first = runs.get(expert, image, np.array([1.0, 2.0, 3.0, 4.0]), 0.0)
    again = runs.get(expert, image, np.array([1, 2, 3, 4], dtype=np.float32), 0.0)  # same values, other dtype
    turned = runs.get(expert, image, np.array([1.0, 2.0, 3.0, 4.0]), 0.5)  # another angle is another question
    assert expert.runs == 2 and runs.hits == 1
    np.testing.assert_array_equal(first["points"], again["points"])
    assert not np.array_equal(first["points"], turned["points"])


def test_results_are_copies_and_forgotten_on_a_new_image():
    runs, expert, image = ImageRuns(), CountingExpert(), np.zeros((4, 4, 3), np.uint8)
    box = np.array([1.0, 2.0, 3.0, 4.0])
    runs.start(image)
    runs.get(expert, image, box)["points"][:] = -1  # a caller that edits its result in place
    assert runs.get(expert, image, box)["points"][0] == 2.0
    image[:] = 10  # a video reader overwrote the frame: start() must forget the old answers
    runs.start(image)
    assert runs.get(expert, image, box)["points"][0] == 12.0 and expert.runs == 2


def test_another_image_object_is_never_answered_from_the_store():
    runs, expert = ImageRuns(), CountingExpert()
    started, other = np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 3), 5, np.uint8)
    runs.start(started)
    runs.get(expert, started, [0, 0, 1, 1])
    assert runs.get(expert, other, [0, 0, 1, 1])["points"][0] == 5.0 and expert.runs == 2
    disabled = ImageRuns(enabled=False)
    disabled.start(started)
    disabled.get(expert, started, [0, 0, 1, 1])
    disabled.get(expert, started, [0, 0, 1, 1])
    assert expert.runs == 4 and disabled.hits == 0


def _outputs(people):
    return [(p.keypoints, p.score, p.part_scores, p.bbox, p.part_boxes, p.keypoints_3d, p.box_score) for p in people]


def _assert_identical(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_identical(a[key], b[key])
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_identical(x, y)
    elif a is None or b is None:
        assert a is None and b is None
    else:
        assert np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("name", ["ultralytics_zidane.jpg", "insightface_t1.jpg"])
def test_estimator_outputs_equal_the_path_that_runs_every_crop(name):
    """On these photos the duplicate rule re-estimates bodies on boxes the main loop already ran
    (measured: one body box on each); every output of every person stays bit-identical."""
    pytest.importorskip("mediapipe", reason="the part experts need mediapipe==0.10.14's bundled models")
    pytest.importorskip("ai_edge_litert", reason="the part experts run the models with ai-edge-litert")
    path = PHOTOS / name
    if not path.is_file():
        pytest.skip(f"{path} not found (the shared media live in ../shared beside the repo)")
    from PIL import Image

    from wholebody.experts import WholeBodyEstimator
    from wholebody.experts.detect.people import PeopleDetector

    image = np.asarray(Image.open(path).convert("RGB"))
    estimator = WholeBodyEstimator(detector=PeopleDetector(num_threads=1), num_threads=1)
    reused = estimator(image)
    assert estimator.runs.hits >= 1, "the photo no longer repeats a body crop: pick another one"
    estimator.runs = ImageRuns(enabled=False)
    every = estimator(image)
    assert len(reused) == len(every) > 0
    _assert_identical(_outputs(reused), _outputs(every))


def test_model_outputs_are_the_callers_own_arrays():
    """``TFLiteModel`` returns ``get_tensor``'s arrays without a second copy: they must still be the
    caller's own, i.e. a later run (on another input) leaves them as they were."""
    pytest.importorskip("mediapipe", reason="the part experts need mediapipe==0.10.14's bundled models")
    pytest.importorskip("ai_edge_litert", reason="the part experts run the models with ai-edge-litert")
    from wholebody.experts.runtime.tflite import TFLiteModel

    model = TFLiteModel("hand_landmark_lite")
    rng = np.random.default_rng(0)
    first = model(rng.random((1, 224, 224, 3), dtype=np.float32))
    kept = [a.copy() for a in first]
    second = model(rng.random((1, 224, 224, 3), dtype=np.float32))
    assert not all(np.array_equal(a, b) for a, b in zip(first, second))  # the two runs differ ...
    assert all(np.array_equal(a, b) for a, b in zip(first, kept))  # ... and the first run's arrays did not change
