"""Whole-image part detectors (faces, palms) run on the full image, independent of any body.

Each detector returns its detections in original-image pixels; nothing is loaded at import.
"""
