"""Whole-body assembly rules (DOPE's ``assign_hands_and_head_to_body``, with hand sides respected).

Hands -> bodies: a hand of side s and a body are paired when the body's s-wrist is the hand's
nearest s-wrist over all bodies, the hand is the nearest s-hand to that wrist, and their
distance is at most ``margin`` x the hand size (the longer side of the hand's box grown 10 %
per side).  Unlike DOPE's code, a left hand can only attach to a left wrist.

Faces -> bodies: a face is assigned when the body's head point lies inside exactly one face
box (grown 10 % per side) and that box contains the head point of exactly one body.

All coordinates are original-image pixels.
"""

from __future__ import annotations

import numpy as np

SIDES = ("left", "right")


def grown_box_size(points: np.ndarray, margin: float = 0.1) -> float:
    """Longer side of the box around (N, 2) points, grown by ``margin`` of its size on each side."""
    pts = np.asarray(points, dtype=np.float64)[:, :2]
    extent = pts.max(axis=0) - pts.min(axis=0)
    return float(extent.max() * (1.0 + 2.0 * margin))


def match_hands(
    body_wrists: np.ndarray,
    wrist_valid: np.ndarray,
    hand_wrists: np.ndarray,
    hand_sides: np.ndarray,
    hand_sizes: np.ndarray,
    margin: float = 1.0,
) -> dict[tuple[int, int], int]:
    """Pair hands with body wrists by mutual nearest distance, side by side.

    Args:
        body_wrists: (B, 2, 2) wrist (x, y) per body, side 0 = left, 1 = right.
        wrist_valid: (B, 2) bool, whether each wrist may take a hand.
        hand_wrists: (H, 2) wrist point of each hand.
        hand_sides: (H,) int, 0 = left hand, 1 = right hand.
        hand_sizes: (H,) hand size in pixels (see ``grown_box_size``).
        margin: maximum wrist distance in hand sizes.

    Returns:
        {(body index, side): hand index} for every accepted pair.
    """
    body_wrists = np.asarray(body_wrists, dtype=np.float64).reshape(-1, 2, 2)
    wrist_valid = np.asarray(wrist_valid, dtype=bool).reshape(-1, 2)
    hand_wrists = np.asarray(hand_wrists, dtype=np.float64).reshape(-1, 2)
    hand_sides = np.asarray(hand_sides, dtype=np.int64).reshape(-1)
    hand_sizes = np.asarray(hand_sizes, dtype=np.float64).reshape(-1)
    pairs: dict[tuple[int, int], int] = {}
    for side in (0, 1):
        bodies = np.flatnonzero(wrist_valid[:, side])
        hands = np.flatnonzero(hand_sides == side)
        if len(bodies) == 0 or len(hands) == 0:
            continue
        dist = np.linalg.norm(body_wrists[bodies, side][:, None, :] - hand_wrists[hands][None, :, :], axis=2)
        nearest_hand = dist.argmin(axis=1)  # per body
        nearest_body = dist.argmin(axis=0)  # per hand
        for b_local, h_local in enumerate(nearest_hand):
            if nearest_body[h_local] == b_local and dist[b_local, h_local] <= margin * hand_sizes[hands[h_local]]:
                pairs[(int(bodies[b_local]), side)] = int(hands[h_local])
    return pairs


def inside(point: np.ndarray, box_xywh: np.ndarray) -> bool:
    """Whether (x, y) lies inside ``[x, y, w, h]`` (edges included)."""
    x, y, w, h = box_xywh
    return bool(x <= point[0] <= x + w and y <= point[1] <= y + h)


def grow_box(box_xywh: np.ndarray, margin: float = 0.1) -> np.ndarray:
    """``[x, y, w, h]`` grown by ``margin`` of its size on each side."""
    x, y, w, h = (float(v) for v in box_xywh)
    return np.array([x - margin * w, y - margin * h, w * (1 + 2 * margin), h * (1 + 2 * margin)])


def match_faces(head_points: np.ndarray, head_valid: np.ndarray, face_boxes: list[np.ndarray], margin: float = 0.1) -> dict[int, int]:
    """Assign faces to bodies by the head point (DOPE's rule).

    Args:
        head_points: (B, 2) each body's head point (x, y).
        head_valid: (B,) bool, whether the head point is known.
        face_boxes: per face, its ``[x, y, w, h]`` landmark box (grown by ``margin`` here).
    Returns:
        {body index: face index}.
    """
    head_points = np.asarray(head_points, dtype=np.float64).reshape(-1, 2)
    head_valid = np.asarray(head_valid, dtype=bool).reshape(-1)
    grown = [grow_box(b, margin) for b in face_boxes]
    contains = np.array([[head_valid[i] and inside(head_points[i], box) for box in grown] for i in range(len(head_points))],
                        dtype=bool).reshape(len(head_points), len(grown))
    pairs = {}
    for body in range(len(head_points)):
        faces = np.flatnonzero(contains[body])
        if len(faces) == 1 and contains[:, faces[0]].sum() == 1:
            pairs[body] = int(faces[0])
    return pairs


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two ``[x, y, w, h]`` boxes."""
    lo = np.maximum(a[:2], b[:2])
    hi = np.minimum(a[:2] + a[2:], b[:2] + b[2:])
    inter = float(np.prod(np.clip(hi - lo, 0, None)))
    union = float(a[2] * a[3] + b[2] * b[3]) - inter
    return inter / union if union > 0 else 0.0


def unique_parts(boxes: list[np.ndarray], scores: list[float], iou_threshold: float = 0.5) -> list[int]:
    """Indices of parts kept after greedy suppression of overlapping duplicates (best score first).

    Two head crops of neighbouring people can land on the same face; without this the face
    rule would see one head inside two boxes and give that face to nobody.
    """
    order = sorted(range(len(boxes)), key=lambda i: -scores[i])
    kept: list[int] = []
    for i in order:
        if all(box_iou(np.asarray(boxes[i]), np.asarray(boxes[j])) <= iou_threshold for j in kept):
            kept.append(i)
    return sorted(kept)
