"""TFLite's native 'Created TensorFlow Lite XNNPACK delegate' line never reaches the terminal."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("ai_edge_litert", reason="ai-edge-litert (the TFLite runtime) is not installed")
pytest.importorskip("mediapipe", reason="mediapipe (whose wheel holds the models) is not installed")

_SCRIPT = """
import logging, sys
logging.basicConfig(level=logging.DEBUG if sys.argv[1] == "debug" else logging.WARNING, stream=sys.stdout)
from wholebody.experts.runtime.tflite import TFLiteModel, native_stderr_to_log
TFLiteModel("hand_landmark_lite")
with native_stderr_to_log():
    import os
    os.write(2, b"native problem\\n")
print("done")
"""


def _run(level: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", _SCRIPT, level], capture_output=True, text=True, env=env, timeout=120)


def test_xnnpack_line_is_not_on_stderr_and_other_lines_are_logged():
    done = _run("warning")
    assert done.returncode == 0, done.stderr
    assert "XNNPACK" not in done.stderr and "XNNPACK" not in done.stdout
    assert "WARNING:wholebody.experts.runtime.tflite:tflite: native problem" in done.stdout  # not lost: logged


def test_xnnpack_line_is_kept_at_debug_level():
    done = _run("debug")
    assert "tflite: INFO: Created TensorFlow Lite XNNPACK delegate" in done.stdout
