"""From DOPE's per-proposal outputs to part detections: pose-proposal integration (PPI) or NMS.

**PPI** (LCR-Net++ / DOPE's improved version), run once per part:

1. Candidates: every (proposal, class) pair whose softmax score is >= ``score_th`` (default
   0.1 / K), each with its proposal box, class, 2D pose and 3D pose.
2. Instances: greedily take the best remaining candidate and group every remaining candidate
   that overlaps it: ``overlap="bbox"`` (the paper's default) -- *proposal box* IoU > ``th_iou``
   (plain IoU, no +1 pixel); ``overlap="mje"`` (the public code's option for hands and faces)
   -- mean 2D joint distance / (2 x longest side of the best candidate's box + 1) < ``th_iou``.
   Root-relative 3D cannot tell two standing people apart, so in crowds 'bbox' at 0.2 merges
   neighbours into one instance; on two overfit fixture models (``benchmarks/overfit_dope.py``)
   whole-body AP is 0.537 / 0.665 with 'bbox' at 0.2 and 0.800 / 0.911 with 'mje' at 0.05
   (NMS at 0.5: 0.904 / 0.904).
3. Modes inside an instance: take the best unassigned candidate (stop once its score is below
   ``min_mode_score`` and a mode exists), collect from the whole instance the candidates whose
   mean per-joint 3D distance to it is < ``th_pose3d`` metres, and average their 2D and 3D
   poses weighted by score; the mode's score is the sum of their scores.
4. Each instance keeps its best mode if that score exceeds ``th_detect``; detections are sorted
   by score.  The summed score can exceed 1.

Body anchors may include upper-body-only classes (``upper_body_from``: the first such class
index); their weight on the lower-body joints is multiplied by 0.1.  Unlike the public code,
the class at that index itself counts as upper-body (its 0-based ``> K`` test was an off-by-one).
A hand's side comes from the class of its mode's best candidate (the public code read the class
of the wrong candidate): classes below ``hand_classes_per_side`` are right hands.

**NMS** (DOPE's faster alternative): per proposal its best class; keep scores >= ``min_score``;
suppress at IoU ``iou`` between boxes around the 2D poses (tight bounds + 10 % per side).  The
score is one probability.  DOPE's code suppresses at IoU 0.1; we default to 0.5 because people
in COCO crowds overlap more than that (two overfit fixture models, ``benchmarks/overfit_dope.py``:
whole-body AP 0.758 / 0.756 at 0.1, 0.904 / 0.831 at 0.4, 0.904 / 0.904 at 0.5).  Every
function accepts zero proposals and returns no detection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from wholebody.nn.nms import box_iou, nms

POSE_BOX_MARGIN = 0.1
NMS_IOU = 0.5  # DOPE's code: 0.1 (module docstring)
POST_PROCESSING = ("nms", "ppi")


@dataclass
class PartDetection:
    """One detected body, hand or face.

    Attributes:
        part: ``"body"``, ``"hand"`` or ``"face"``.
        score: PPI: summed class probabilities (may exceed 1); NMS: one probability.
        pose2d: (J, 2) pixels of the original image.
        pose3d: (J, 3) metres in the part's frame (``dope_layout``).
        box: (4,) x1y1x2y2 proposal box of the best candidate, original pixels.
        is_right: hands only: True for a right hand.
    """

    part: str
    score: float
    pose2d: np.ndarray
    pose3d: np.ndarray
    box: np.ndarray
    is_right: bool | None = None


def pose_boxes(pose2d: np.ndarray, margin: float = POSE_BOX_MARGIN) -> np.ndarray:
    """(..., J, 2) poses -> (..., 4) x1y1x2y2 tight boxes grown by ``margin`` x size per side."""
    low, high = pose2d.min(axis=-2), pose2d.max(axis=-2)
    pad = margin * (high - low)
    return np.concatenate([low - pad, high + pad], axis=-1)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    return box_iou(torch.as_tensor(box[None], dtype=torch.float64), torch.as_tensor(boxes, dtype=torch.float64))[0].numpy()


def _overlaps(overlap: str, best: int, group: np.ndarray, boxes: np.ndarray, pose2d: np.ndarray,
              th_iou: float) -> np.ndarray:
    """Which candidates of ``group`` belong to ``best``'s instance (module docstring, step 2)."""
    if overlap == "bbox":
        return _iou(boxes[best], boxes[group]) > th_iou
    if overlap == "mje":
        side = float((boxes[best, 2:] - boxes[best, :2]).max())
        return np.linalg.norm(pose2d[group] - pose2d[best], axis=-1).mean(axis=-1) / (2 * side + 1) < th_iou
    raise ValueError(f"unknown PPI overlap {overlap!r}; choose 'bbox' or 'mje'")


def _side(part: str, cls: int, hand_classes_per_side: int | None) -> bool | None:
    if part != "hand":
        return None
    if hand_classes_per_side is None:
        raise ValueError("hand detections need hand_classes_per_side (hand classes below it are right hands)")
    return bool(cls < hand_classes_per_side)


def _weighted_mode(weights: np.ndarray, classes: np.ndarray, pose2d: np.ndarray, pose3d: np.ndarray,
                   upper_body_from: int | None, lower_body_joints: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Score-weighted mean 2D/3D poses; upper-body classes count 10x less on lower-body joints."""
    joint_weights = np.repeat(weights[:, None], pose2d.shape[1], axis=1)
    if upper_body_from is not None and lower_body_joints:
        upper = classes >= upper_body_from
        joint_weights[np.ix_(upper, list(lower_body_joints))] *= 0.1
    joint_weights = joint_weights / joint_weights.sum(axis=0, keepdims=True)
    return (joint_weights[..., None] * pose2d).sum(0), (joint_weights[..., None] * pose3d).sum(0)


def ppi(part: str, boxes: np.ndarray, scores: np.ndarray, pose2d: np.ndarray, pose3d: np.ndarray,
        score_th: float | None = None, th_iou: float = 0.2, th_pose3d: float = 0.3, min_mode_score: float = 0.05,
        th_detect: float = 0.002, hand_classes_per_side: int | None = None, upper_body_from: int | None = None,
        lower_body_joints: tuple[int, ...] = (), overlap: str = "bbox") -> list[PartDetection]:
    """Pose-proposal integration for one part of one image (module docstring).

    Args:
        boxes: (N, 4) proposals, original pixels; scores: (N, K + 1) softmax, column 0 background.
        pose2d: (N, K, J, 2) original pixels; pose3d: (N, K, J, 3) metres.
    """
    boxes, scores, pose2d, pose3d = (np.asarray(a, dtype=np.float64) for a in (boxes, scores, pose2d, pose3d))
    num_classes = scores.shape[1] - 1
    threshold = 0.1 / num_classes if score_th is None else score_th
    rows, classes = np.nonzero(scores[:, 1:] >= threshold)
    if len(rows) == 0:
        return []
    cand_score = scores[rows, classes + 1]
    cand_box, cand_2d, cand_3d = boxes[rows], pose2d[rows, classes], pose3d[rows, classes]
    remaining = np.ones(len(rows), bool)
    detections = []
    while remaining.any():
        best = int(np.flatnonzero(remaining)[np.argmax(cand_score[remaining])])
        group = np.flatnonzero(remaining)
        group = group[_overlaps(overlap, best, group, cand_box, cand_2d, th_iou)]
        group = np.union1d(group, [best])
        remaining[group] = False
        unassigned = np.ones(len(group), bool)
        best_mode = None
        while unassigned.any():
            top = int(np.flatnonzero(unassigned)[np.argmax(cand_score[group][unassigned])])
            if cand_score[group[top]] < min_mode_score and best_mode is not None:
                break
            distance = np.linalg.norm(cand_3d[group] - cand_3d[group[top]], axis=-1).mean(axis=-1)
            members = distance < th_pose3d
            members[top] = True
            unassigned &= ~members
            total = float(cand_score[group][members].sum())
            if best_mode is None or total > best_mode[0]:
                best_mode = (total, group[top], group[members])
        total, top_index, members = best_mode
        if total > th_detect:
            mean2d, mean3d = _weighted_mode(cand_score[members], classes[members], cand_2d[members], cand_3d[members],
                                            upper_body_from, lower_body_joints)
            detections.append(PartDetection(part, total, mean2d, mean3d, cand_box[top_index].copy(),
                                            _side(part, int(classes[top_index]), hand_classes_per_side)))
    return sorted(detections, key=lambda d: -d.score)


def pose_nms(part: str, boxes: np.ndarray, scores: np.ndarray, pose2d: np.ndarray, pose3d: np.ndarray,
             min_score: float = 0.3, iou: float = NMS_IOU, hand_classes_per_side: int | None = None) -> list[PartDetection]:
    """DOPE's NMS alternative for one part of one image (module docstring); same inputs as :func:`ppi`."""
    boxes, scores, pose2d, pose3d = (np.asarray(a, dtype=np.float64) for a in (boxes, scores, pose2d, pose3d))
    if len(scores) == 0:
        return []
    classes = scores[:, 1:].argmax(axis=1)
    best = scores[np.arange(len(scores)), classes + 1]
    kept = np.flatnonzero(best >= min_score)
    if len(kept) == 0:
        return []
    poses2d, poses3d = pose2d[kept, classes[kept]], pose3d[kept, classes[kept]]
    order = nms(torch.as_tensor(pose_boxes(poses2d)), torch.as_tensor(best[kept]), iou).numpy()
    return [PartDetection(part, float(best[kept[i]]), poses2d[i], poses3d[i], boxes[kept[i]].copy(),
                          _side(part, int(classes[kept[i]]), hand_classes_per_side)) for i in order]


def detect_parts(output: dict[str, torch.Tensor], parts: tuple[str, ...], hand_classes_per_side: int,
                 method: str = "nms", part_kwargs: dict[str, dict] | None = None) -> dict[str, list[PartDetection]]:
    """Run PPI or NMS on every part of one image's ``DOPE.forward`` output.

    ``part_kwargs[part]`` overrides that part's thresholds (the checkpoint's ``<part>_ppi_kwargs``).
    """
    if method not in POST_PROCESSING:
        raise ValueError(f"unknown DOPE post-processing {method!r}; choose 'ppi' or 'nms'")
    run = ppi if method == "ppi" else pose_nms
    result = {}
    for part in parts:
        kwargs = dict((part_kwargs or {}).get(part, {}))
        if part == "hand":
            kwargs.setdefault("hand_classes_per_side", hand_classes_per_side)
        arrays = [output[key].detach().float().cpu().numpy() for key in
                  ("boxes", f"{part}_scores", f"{part}_pose2d", f"{part}_pose3d")]
        result[part] = run(part, *arrays, **kwargs)
    return result
