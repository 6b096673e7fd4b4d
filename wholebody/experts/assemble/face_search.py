"""Body search from faces: a face the detectors found where no person box is starts a person.

A person whom every person detector missed is usually still visible by the face (people
behind others, people cut by the image edge, close-ups).  Each whole-image face that no person
box holds (``rules.unclaimed_faces``) gets a search box below it, sized from the face as a
standing person's upper body and legs would be (``SEARCH_WIDTH`` x ``SEARCH_HEIGHT`` face
sides, from ``SEARCH_ABOVE`` face sides above the face), clipped to the image.  The estimator
treats these boxes like video carry-over boxes (``carry.add_carried``): the body expert runs
on them, and a person is kept only while BlazePose's pose-present probability vouches for one;
a body that coincides with a detected person's is removed as a duplicate.  Boxes are
``[x, y, w, h]`` in original pixels.
"""

from __future__ import annotations

import numpy as np

from wholebody.experts.assemble.rules import unclaimed_faces

SEARCH_WIDTH = 4.0   # face sides: shoulders and arms held out
SEARCH_HEIGHT = 7.5  # face sides: a standing adult is about 7.5 heads tall
SEARCH_ABOVE = 0.5   # face sides of margin above the face
MIN_FACE_SCORE = 0.6  # the face detectors' weak detections are often not faces
MIN_FACE_SIDE = 12.0  # pixels: smaller faces give crops the body model cannot read
FACE_SEARCH_SCORE = 0.5  # a found person's box score: this x the face score (ranked below detected people)


def face_search_boxes(faces: list, person_boxes: np.ndarray, image_shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Search boxes for the confident faces outside every person box.

    Args:
        faces: whole-image face detections with ``box`` ``[x, y, w, h]`` and ``score``.
        person_boxes: (N, 4) the person boxes already found.
        image_shape: (H, W, ...) of the image, to clip the boxes.
    Returns:
        ``(boxes (M, 4), scores (M,))``, the form of ``carry.add_carried``'s ``carry``.
    """
    height, width = image_shape[:2]
    boxes, scores = [], []
    for face in unclaimed_faces(faces, person_boxes):
        x, y, w, h = (float(v) for v in face.box)
        side = max(w, h)
        if face.score < MIN_FACE_SCORE or side < MIN_FACE_SIDE:
            continue
        x0 = max(0.0, x + w / 2 - SEARCH_WIDTH * side / 2)
        y0 = max(0.0, y - SEARCH_ABOVE * side)
        x1 = min(float(width), x + w / 2 + SEARCH_WIDTH * side / 2)
        y1 = min(float(height), y0 + SEARCH_HEIGHT * side)
        if x1 - x0 > 1 and y1 - y0 > 1:
            boxes.append([x0, y0, x1 - x0, y1 - y0])
            scores.append(FACE_SEARCH_SCORE * float(face.score))
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4), np.asarray(scores, dtype=np.float64)
