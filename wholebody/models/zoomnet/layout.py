"""ZoomNet's output layout: keypoint counts, part boxes and their corner/centre points, input normalisation.

Shared by the network (``network``) and the heatmap decoding (``decode``) so neither imports the other's
module for constants.
"""

NUM_BODY_FOOT = 23  # COCO-WholeBody keypoints 0..22: body and feet
PART_BOXES = ("face", "lefthand", "righthand")
BOX_POINTS = ("top_left", "top_right", "bottom_left", "bottom_right", "centre")
PART_KEYPOINTS = {"face": 68, "lefthand": 21, "righthand": 21}
IMAGENET_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)  # RGB, 0..255 inputs
IMAGENET_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
