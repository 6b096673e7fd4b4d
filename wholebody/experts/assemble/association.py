"""Whole-body assembly rules (after DOPE's ``assign_hands_and_head_to_body``).

Hands -> bodies: each (hand, body wrist) pair gets a cost (``hand_pair_cost``: distance in body
scales, forearm reach, the hand model's side, the wrist's score; ``inf`` where impossible) and
``greedy_pairs`` takes the cheapest pairs one-to-one (``hand_assembly.assign_hands``).  Unlike
DOPE's mutual-nearest rule, a hand that two wrists want still goes to the cheaper one, and a
left hand never goes to a right wrist.

Faces -> bodies: a face is assigned when the body's head point lies inside exactly one face
box (grown 10 % per side) and that box contains the head point of exactly one body.

All coordinates are original-image pixels.
"""

from __future__ import annotations

import numpy as np



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


# Hand -> (person, side) assignment by cost (``hand_assembly.HandAssembler``).  Distances are in
# body scales (``body_scale``): about one upper-arm length, the size a hand's reach is measured in.
HAND_REACH = 1.2  # farthest hand centre from the wrist: about a forearm plus a hand
BEHIND_ELBOW = 0.25  # how far behind the elbow (along elbow -> wrist) a hand centre may lie
SIDE_VETO = 0.2  # a hand the model calls the other side with probability > 1 - SIDE_VETO is not this side's
SIDE_WEIGHT = 0.5  # cost of an unsure side: SIDE_WEIGHT x the probability of the other side
BACK_WEIGHT = 1.0  # cost per body scale that the hand centre lies back from the wrist towards the elbow
WRIST_WEIGHT = 0.5  # cost of a wrist the body model calls unseen: WRIST_WEIGHT x (1 - its score)
SEGMENTS = ((5, 6), (5, 7), (6, 8), (7, 9), (8, 10))  # COCO shoulders, upper arms, forearms


def body_scale(keypoints: np.ndarray, min_score: float = 0.2) -> float:
    """A person's arm-length scale in pixels: the longest of shoulder width, upper arms and forearms
    whose end points both score >= ``min_score`` (all five when none do).

    The longest, because any one segment can be foreshortened (an arm pointing at the camera);
    on an upright person it is about one upper arm, so a forearm plus a hand is ~1.2 of it.
    """
    points = np.asarray(keypoints, dtype=np.float64)
    lengths = [float(np.hypot(*(points[a, :2] - points[b, :2]))) for a, b in SEGMENTS]
    sure = [length for (a, b), length in zip(SEGMENTS, lengths) if min(points[a, 2], points[b, 2]) >= min_score]
    values = [v for v in (sure or lengths) if np.isfinite(v)]
    return max(values, default=0.0)


def hand_pair_cost(hand_points: np.ndarray, right: float, side: int, wrist: np.ndarray, elbow: np.ndarray,
                   scale: float, wrist_score: float = 1.0) -> float:
    """Cost of giving a hand to one body wrist; ``inf`` where it cannot be that wrist's hand.

    Args:
        hand_points: (21, 2) the hand's landmarks in original pixels (point 0 the wrist).
        right: the hand model's probability that it is a right hand (the person's right, on the
            unmirrored image: ``landmarks.hands.HandLandmarks.right``).
        side: 0 for the body's left wrist, 1 for its right.
        wrist, elbow: (2,) that side's body wrist and elbow, original pixels.
        scale: the body's ``body_scale`` in pixels.
        wrist_score: the body wrist's score in [0, 1]: a wrist the body model did not see (often
            one it put on a neighbour's arm) is a weaker claim than a seen one nearby.
    Returns:
        distance of the hand's wrist from the body wrist in body scales, plus how far its centre
        lies back along the forearm (a hand reaches forward, past the wrist), the doubt on its
        side and on the wrist.  Vetoed: the model says the other side (``SIDE_VETO``), the hand centre is more
        than ``HAND_REACH`` scales from the wrist, or behind the elbow.
    """
    points = np.asarray(hand_points, dtype=np.float64)[:, :2]
    wrist, elbow = np.asarray(wrist, dtype=np.float64), np.asarray(elbow, dtype=np.float64)
    scale = max(float(scale), 1.0)
    p_side = float(right) if side == 1 else 1.0 - float(right)
    if not (np.all(np.isfinite(points)) and np.all(np.isfinite(wrist))) or p_side < SIDE_VETO:
        return float("inf")
    centre = points.mean(axis=0)
    if np.hypot(*(centre - wrist)) > HAND_REACH * scale:
        return float("inf")
    cost = float(np.hypot(*(points[0] - wrist))) / scale + SIDE_WEIGHT * (1.0 - p_side)
    cost += WRIST_WEIGHT * (1.0 - float(np.clip(wrist_score, 0.0, 1.0)))
    forearm = wrist - elbow
    length = float(np.hypot(*forearm)) if np.all(np.isfinite(forearm)) else 0.0
    if length > 0.2 * scale:  # a foreshortened forearm gives no direction
        ahead = float(np.dot(centre - wrist, forearm / length))  # pixels past the wrist
        if ahead < -(length + BEHIND_ELBOW * scale):
            return float("inf")
        cost += BACK_WEIGHT * max(0.0, -ahead) / scale
    return cost


def greedy_pairs(costs: np.ndarray) -> list[tuple[int, int]]:
    """One-to-one pairs (row, column) of a cost matrix, cheapest first; ``inf`` is never paired."""
    costs = np.asarray(costs, dtype=np.float64)
    if costs.size == 0:
        return []
    rows, cols = np.nonzero(np.isfinite(costs))
    order = np.argsort(costs[rows, cols], kind="stable")
    used_rows, used_cols, pairs = set(), set(), []
    for k in order:
        r, c = int(rows[k]), int(cols[k])
        if r not in used_rows and c not in used_cols:
            pairs.append((r, c))
            used_rows.add(r)
            used_cols.add(c)
    return pairs
