"""Every bundled MediaPipe model the package names has a role that `wholebody models list` shows."""

from wholebody.experts.runtime import tflite


def test_every_bundled_model_has_a_role():
    assert set(tflite.MODEL_ROLES) == set(tflite.MODEL_FILES)
