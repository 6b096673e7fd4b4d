"""DOPE post-processing on the device of the network's output: pose NMS and PPI's candidates.

Reading a device value on the host stalls the host until the device has caught up.  The numpy
post-processing copied every part's raw outputs to the host (N proposals x K classes x J joints,
most of which no detection uses) and ran a greedy NMS there.  Here:

* **Pose NMS** of all parts of an image runs as one batch on the device: each proposal's best
  class, the score filter, the boxes around the 2D poses, the (P, N, N) suppression matrix and
  greedy NMS as a fixed point (``nn.nms.suppression_keep``) over the proposals above the score
  filter.  Only the kept detections are copied back, packed in one tensor.  Host syncs: one
  read of the filtered counts, the fixed point's convergence checks (1 + log2 of the longest
  suppression chain, 1-3 on network outputs), one read of the kept counts and one copy --
  none per proposal or per detection, whatever the number of proposals.
* **PPI**: the candidates ((proposal, class) pairs above the score threshold) are selected and
  gathered on the device (one ``nonzero``) and copied back in one tensor; PPI's greedy grouping
  then runs on them in numpy (``post.ppi``).

Both compute in float64 like the numpy path they replace, so the detections are identical to
it (``tests/test_dope_post_device.py``).  Every copy to the host goes through :func:`to_host`,
so tests count them without a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from wholebody.nn.nms import box_iou, suppression_keep


def to_host(tensor: torch.Tensor) -> np.ndarray:
    """The one place where this module copies device values to the host (tests count calls)."""
    return tensor.detach().cpu().numpy()


def as_float64(values, device: torch.device | None = None) -> torch.Tensor:
    """A tensor (kept on its device) or array-like (on ``device``, default CPU) as float64."""
    if isinstance(values, torch.Tensor):
        return values.detach().to(torch.float64)
    return torch.as_tensor(np.asarray(values), dtype=torch.float64, device=device)


def as_tensor(values, device: torch.device) -> torch.Tensor:
    """A tensor as it is, or an array-like on ``device``, in its own dtype (converted after gathering)."""
    return values.detach() if isinstance(values, torch.Tensor) else torch.as_tensor(np.asarray(values), device=device)


def _pick(values: torch.Tensor, rows: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """``values[rows, classes]`` of (N, K, ...) values, as one row selection of the (N x K, ...)
    view (on a CPU several times cheaper than indexing with two index tensors)."""
    return values.flatten(0, 1).index_select(0, rows * values.shape[1] + classes)


def pose_boxes_tensor(pose2d: torch.Tensor, margin: float) -> torch.Tensor:
    """(..., J, 2) poses -> (..., 4) x1y1x2y2 tight boxes grown by ``margin`` x size per side
    (the same arithmetic as ``post.pose_boxes``, so float64 results are bit-identical)."""
    low, high = pose2d.amin(dim=-2), pose2d.amax(dim=-2)
    pad = margin * (high - low)
    return torch.cat([low - pad, high + pad], dim=-1)


@dataclass
class KeptPoses:
    """One part's NMS result on the host, by decreasing score (M kept detections).

    proposal (M,) proposal index; classes (M,) anchor-pose class; score (M,); pose2d (M, J, 2)
    original pixels; pose3d (M, J, 3) metres; box (M, 4) x1y1x2y2 proposal box, original pixels.
    """

    proposal: np.ndarray
    classes: np.ndarray
    score: np.ndarray
    pose2d: np.ndarray
    pose3d: np.ndarray
    box: np.ndarray


def _empty(joints: int) -> KeptPoses:
    return KeptPoses(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros((0, joints, 2)),
                     np.zeros((0, joints, 3)), np.zeros((0, 4)))


def pose_nms_parts(boxes, scores: list, pose2d: list, pose3d: list, min_score: list[float], iou: list[float],
                   margin: float) -> list[KeptPoses]:
    """Pose NMS of P parts of one image at once, on the device of ``boxes`` (module docstring).

    Args:
        boxes: (N, 4) proposals, original pixels (shared by the parts).
        scores: per part (N, K_p + 1) softmax, column 0 background.
        pose2d, pose3d: per part (N, K_p, J_p, 2) pixels and (N, K_p, J_p, 3) metres.
        min_score, iou: per part, the score filter and the suppression IoU.
        margin: pose boxes grow by this fraction of their size per side.
    """
    boxes = as_float64(boxes)
    device, count = boxes.device, boxes.shape[0]
    joints = [p.shape[2] if len(p.shape) == 4 else 0 for p in pose2d]
    if count == 0 or not scores:
        return [_empty(j) for j in joints]
    scores = [as_float64(s, device) for s in scores]
    classes = torch.stack([s[:, 1:].argmax(dim=1) for s in scores])  # first of tied maxima, as numpy
    best = torch.stack([s.gather(1, c[:, None] + 1)[:, 0] for s, c in zip(scores, classes)])
    rows = torch.arange(count, device=device)
    pose_box = torch.stack([pose_boxes_tensor(_pick(as_tensor(p, device), rows, c).double(), margin)
                            for p, c in zip(pose2d, classes)])
    valid = best >= torch.as_tensor(min_score, dtype=torch.float64, device=device)[:, None]
    # stable: among equal scores the earlier proposal first, as the numpy path's sort
    order = torch.sort(torch.where(valid, best, -torch.inf), dim=1, descending=True, stable=True).indices
    # the proposals above the score filter lead each row: cut the rows to the longest such run
    # (one read), so that the IoU matrices leave out the many low-scoring proposals
    valid_counts = to_host(valid.sum(dim=1))
    width = int(valid_counts.max())
    if width == 0:
        return [_empty(j) for j in joints]
    order = order[:, :width]
    ordered_boxes = pose_box.gather(1, order[..., None].expand(-1, -1, 4))
    # one IoU matrix per part, of its own filtered size (a padded (P, W, W) float64 batch is
    # several times slower on a CPU)
    active = [p for p, n in enumerate(valid_counts.tolist()) if n]  # parts with a proposal to keep
    suppresses = torch.zeros((len(active), width, width), dtype=torch.bool, device=device)
    for row, p in enumerate(active):
        n = int(valid_counts[p])
        suppresses[row, :n, :n] = box_iou(ordered_boxes[p, :n], ordered_boxes[p, :n]) > iou[p]
    keep = torch.zeros((len(scores), width), dtype=torch.bool, device=device)  # (P, W), in score order
    keep[active] = suppression_keep(suppresses, valid.gather(1, order)[active])
    counts = to_host(keep.sum(dim=1))
    width = int(counts.max())
    if width == 0:
        return [_empty(j) for j in joints]
    # the kept entries first in each row, still in score order; cut to the largest count
    position = torch.sort((~keep).to(torch.uint8), dim=1, stable=True).indices[:, :width]
    proposal = order.gather(1, position)  # (P, width)
    packed = []
    for p, (pose_2d, pose_3d) in enumerate(zip(pose2d, pose3d)):
        index, cls = proposal[p], classes[p].gather(0, proposal[p])
        packed += [index.double(), cls.double(), best[p].gather(0, index), boxes[index].flatten(),
                   _pick(as_tensor(pose_2d, device), index, cls).double().flatten(),
                   _pick(as_tensor(pose_3d, device), index, cls).double().flatten()]
    host = to_host(torch.cat(packed))
    result, start = [], 0
    for p, j in enumerate(joints):
        sizes = [width, width, width, 4 * width, 2 * j * width, 3 * j * width]
        index, cls, score, box, p2d, p3d = np.split(host[start:start + sum(sizes)], np.cumsum(sizes)[:-1])
        start += sum(sizes)
        m = int(counts[p])
        result.append(KeptPoses(index[:m].astype(np.int64), cls[:m].astype(np.int64), score[:m],
                                p2d.reshape(width, j, 2)[:m], p3d.reshape(width, j, 3)[:m], box.reshape(width, 4)[:m]))
    return result


@dataclass
class Candidates:
    """PPI's candidates on the host: (proposal, class) pairs with score >= the threshold, in
    row-major order (as ``np.nonzero``), and every proposal box.

    boxes (N, 4) original pixels; rows, classes (C,); score (C,); pose2d (C, J, 2); pose3d (C, J, 3).
    """

    boxes: np.ndarray
    rows: np.ndarray
    classes: np.ndarray
    score: np.ndarray
    pose2d: np.ndarray
    pose3d: np.ndarray


def ppi_candidates(boxes, scores, pose2d, pose3d, threshold: float) -> Candidates | None:
    """Select and gather PPI's candidates on the device of ``boxes``; None when there are none."""
    boxes = as_float64(boxes)
    scores = as_float64(scores, boxes.device)
    found = torch.nonzero(scores[:, 1:] >= threshold)  # the one data-sized read
    if len(found) == 0:
        return None
    rows, classes = found.unbind(1)
    cand_2d = _pick(as_tensor(pose2d, boxes.device), rows, classes).double()
    cand_3d = _pick(as_tensor(pose3d, boxes.device), rows, classes).double()
    count, joints = len(rows), cand_2d.shape[1]
    host = to_host(torch.cat([rows.double(), classes.double(), scores[rows, classes + 1], cand_2d.flatten(),
                              cand_3d.flatten(), boxes.flatten()]))
    sizes = [count, count, count, 2 * joints * count, 3 * joints * count]
    row, cls, score, p2d, p3d, box = np.split(host, np.cumsum(sizes))
    return Candidates(box.reshape(-1, 4), row.astype(np.int64), cls.astype(np.int64), score,
                      p2d.reshape(count, joints, 2), p3d.reshape(count, joints, 3))
