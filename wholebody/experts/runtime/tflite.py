"""Locate the ``.tflite`` models bundled in the mediapipe 0.10.14 wheel and run them.

The models are read from the installed ``mediapipe`` package (never downloaded) and run with
the plain TFLite interpreter of ``ai-edge-litert``, so every model sees crops that we build
(no MediaPipe graph, no internal single-person detector).  Nothing is loaded at import time.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import tempfile
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# Short name -> path under mediapipe/modules.  Only models this package uses are listed.
MODEL_FILES: dict[str, str] = {
    "pose_detection": "pose_detection/pose_detection.tflite",
    "pose_landmark_full": "pose_landmark/pose_landmark_full.tflite",
    "hand_landmark_full": "hand_landmark/hand_landmark_full.tflite",
    "hand_landmark_lite": "hand_landmark/hand_landmark_lite.tflite",
    "face_landmark": "face_landmark/face_landmark.tflite",
    "face_detection_short_range": "face_detection/face_detection_short_range.tflite",
    "face_detection_full_range_sparse": "face_detection/face_detection_full_range_sparse.tflite",
    "palm_detection_full": "palm_detection/palm_detection_full.tflite",
    "palm_detection_lite": "palm_detection/palm_detection_lite.tflite",
    "hand_recrop": "holistic_landmark/hand_recrop.tflite",
}

# What each bundled model does in the pipeline (shown by `wholebody models list`).
MODEL_ROLES: dict[str, str] = {
    "pose_detection": "default: person detector for groups (with MoveNet tiles and CenterNet); fallback without MoveNet",
    "pose_landmark_full": "default: body landmarks (first pass)",
    "hand_landmark_full": "default: hand landmarks (averaged with lite)",
    "hand_landmark_lite": "default: hand landmarks (averaged with full)",
    "face_landmark": "default: face mesh -> 68 face points",
    "face_detection_short_range": "default: whole-image face detector (near faces); face search in head crops",
    "face_detection_full_range_sparse": "default: whole-image face detector (small and far faces)",
    "palm_detection_full": "default: whole-image palm detector (hands with or without a body)",
    "palm_detection_lite": "optional: lighter palm detector",
    "hand_recrop": "optional: hand re-crop (off in the default pipeline)",
}
MODEL_LICENCE = "Apache-2.0 (Google MediaPipe; the model files ship inside the mediapipe wheel)"

INSTALL_HINT = "pip install 'mediapipe==0.10.14' 'ai-edge-litert==2.3.0'"


@cache
def mediapipe_modules_dir() -> Path:
    """The ``mediapipe/modules`` folder of the installed wheel (no import of mediapipe itself)."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"mediapipe is not installed; the part experts need its bundled models: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "modules"


def model_path(name: str) -> Path:
    """Path of a bundled model by short name (see ``MODEL_FILES``); raises if it is missing."""
    if name not in MODEL_FILES:
        raise KeyError(f"unknown MediaPipe model {name!r}; known: {sorted(MODEL_FILES)}")
    path = mediapipe_modules_dir() / MODEL_FILES[name]
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the part experts need mediapipe==0.10.14, whose wheel ships it")
    return path


def default_num_threads() -> int:
    """Threads per model call when none are given: the machine's cores, at most 4.

    On the 2-core development machine two threads take the estimator on a one-person 640 x 480
    image from 112 ms to 68 ms.  The cap is a guess (no larger machine was measured): the
    models are small, and many threads on small convolutions mostly wait on each other.
    """
    return max(1, min(4, os.cpu_count() or 1))


class TFLiteModel:
    """One interpreter: float32 NHWC input, outputs returned in the model's output order."""

    def __init__(self, name: str, num_threads: int = 1) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ModuleNotFoundError(f"ai-edge-litert is needed to run the MediaPipe models: {INSTALL_HINT}") from err
        self.name = name
        with native_stderr_to_log():
            self._interpreter = Interpreter(model_path=str(model_path(name)), num_threads=num_threads)
            self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        # Outputs sorted by name (Identity, Identity_1, ...) = the order documented per model.
        details = self._interpreter.get_output_details()
        self._outputs = [d["index"] for d in sorted(details, key=lambda d: _natural_key(d["name"]))]
        log.debug("loaded %s (%s)", name, model_path(name))

    @property
    def input_size(self) -> int:
        """Side of the square model input in pixels."""
        return int(self._input["shape"][1])

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        """Run one (1, S, S, 3) float32 input; returns copies of every output tensor (``get_tensor``
        copies already: a second copy per output was waste, ~1 MB per ``pose_landmark_full`` run)."""
        self._interpreter.set_tensor(self._input["index"], np.ascontiguousarray(batch, dtype=np.float32))
        self._interpreter.invoke()
        return [self._interpreter.get_tensor(i) for i in self._outputs]


@contextmanager
def native_stderr_to_log():
    """Route what C++ code writes to file descriptor 2 meanwhile through ``logging``.

    TFLite prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." to fd 2 when an
    interpreter allocates its tensors; no environment variable or Python setting silences it,
    and on a terminal it lands inside the progress bar.  So fd 2 points at a temporary file for
    that moment; afterwards each captured line is logged ("INFO:" lines at debug level, any
    other line as a warning, so real errors are still seen).
    """
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (embedded interpreters): nothing to capture
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines():
                if line.strip():
                    log.log(logging.DEBUG if line.startswith("INFO:") else logging.WARNING, "tflite: %s", line)


def _natural_key(name: str) -> tuple:
    """Sort 'Identity', 'Identity_1', ..., 'Identity_10' and 'conv2d_21' < 'conv2d_31' naturally."""
    head, _, tail = name.rpartition("_")
    if tail.isdigit():
        return (head, int(tail))
    return (name, -1)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically safe logistic function (logits clipped to +-80)."""
    return 1.0 / (1.0 + np.exp(-np.clip(x, -80.0, 80.0)))
