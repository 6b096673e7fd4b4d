"""Whole-image detectors, each independent of any body: people (MoveNet-MultiPose, CenterNet,
BlazePose, fused in ``people``), faces and palms, plus their shared SSD decoding and box geometry.

Each detector returns its detections in original-image pixels; nothing is loaded at import.
"""
