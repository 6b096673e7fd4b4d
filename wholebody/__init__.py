"""wholebody: whole-body (COCO-WholeBody, 133 keypoints) human pose estimation.

Importing the package does nothing heavy: no network, no model loading, no global state.
"""

__version__ = "0.1.0"
