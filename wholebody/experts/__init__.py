"""Part experts: MediaPipe 0.10.14's bundled models run on our own crops, assembled per person.

``WholeBodyEstimator`` (in :mod:`wholebody.experts.assemble.estimator`) is imported lazily so that
``import wholebody.experts`` loads no model and needs neither mediapipe nor ai-edge-litert.
"""

from __future__ import annotations

__all__ = ["WholeBodyEstimator"]


def __getattr__(name: str):
    if name == "WholeBodyEstimator":
        from wholebody.experts.assemble.estimator import WholeBodyEstimator

        return WholeBodyEstimator
    raise AttributeError(f"module 'wholebody.experts' has no attribute {name!r}")
