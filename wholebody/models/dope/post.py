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

Both run without a loop per proposal or candidate.  NMS runs entirely on the device of the
network's output (all parts of an image in one batch) and PPI selects its candidates there, so
only detections or candidates are copied to the host, with a few syncs in all
(``models.dope.post_device``).  PPI's steps 2 and 3 are greedy clusterings
(a candidate leads unless an earlier leader claims it), computed by :func:`greedy_leaders` on
overlap matrices block by block, with ``nn.nms.suppression_keep`` inside a block; what remains
is one pass per detected instance.  The detections are identical to the candidate-by-candidate
loops they replace (``tests/test_dope_post_vectorised.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from wholebody.models.dope.post_device import KeptPoses, pose_nms_parts, ppi_candidates
from wholebody.nn.nms import box_iou, suppression_keep

POSE_BOX_MARGIN = 0.1
NMS_IOU = 0.5  # DOPE's code: 0.1 (module docstring)
POST_PROCESSING = ("nms", "ppi")
BLOCK = 128  # candidates resolved together by the greedy passes of PPI
SMALL_INSTANCE = 64  # PPI instances up to this many candidates find their modes in batches


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


def _mje_overlaps(pose2d: np.ndarray, sides: np.ndarray, leaders: np.ndarray, others: np.ndarray, th_iou: float
                  ) -> np.ndarray:
    """(L, B) 'mje' overlap: mean 2D joint distance / (2 x the leader's longest box side + 1) < th_iou."""
    distance = np.linalg.norm(pose2d[others][None] - pose2d[leaders][:, None], axis=-1).mean(axis=-1)
    return distance / (2 * sides[leaders][:, None] + 1) < th_iou


def _instances(overlap: str, rows: np.ndarray, cand_score: np.ndarray, boxes: np.ndarray,
               cand_2d: np.ndarray, th_iou: float) -> tuple[np.ndarray, np.ndarray]:
    """Step 2: instance leaders (candidate indices, by decreasing score) and each candidate's leader.

    'bbox': candidates of one proposal share its box, so a proposal's candidates all join the
    instance of its best candidate, and the grouping is greedy NMS over the proposals, ordered
    by their best candidate (ties in candidate order, as ``np.argmax`` picks them).
    """
    if overlap == "bbox":
        used = np.unique(rows)
        first = np.searchsorted(rows, used)  # each proposal's first candidate
        best = np.maximum.reduceat(cand_score, first)
        # the best candidate of each proposal: the first one reaching its maximum
        reaching = np.flatnonzero(cand_score == np.repeat(best, np.diff(np.append(first, len(rows)))))
        best_candidate = reaching[np.unique(rows[reaching], return_index=True)[1]]
        iou = box_iou(torch.as_tensor(boxes[used], dtype=torch.float64),
                      torch.as_tensor(boxes[used], dtype=torch.float64)).numpy() > th_iou
        order = best_candidate[np.lexsort((best_candidate, -best))]
        proposal_of = np.searchsorted(used, rows)
        leader_rows, owner_rows = greedy_leaders(proposal_of[order], lambda a, b: iou[np.ix_(a, b)])
        leader_candidate = np.full(len(used), -1, dtype=np.int64)
        leader_candidate[proposal_of[best_candidate]] = best_candidate
        return leader_candidate[leader_rows], leader_candidate[owner_rows[proposal_of]]
    if overlap == "mje":
        sides = (boxes[rows, 2:] - boxes[rows, :2]).max(axis=1)
        return greedy_leaders(_score_order(cand_score), lambda a, b: _mje_overlaps(cand_2d, sides, a, b, th_iou))
    raise ValueError(f"unknown PPI overlap {overlap!r}; choose 'bbox' or 'mje'")


def greedy_leaders(order: np.ndarray, overlaps) -> tuple[np.ndarray, np.ndarray]:
    """Greedy clustering in priority order, without a loop per candidate.

    A candidate becomes a leader unless an earlier leader overlaps it; every candidate belongs to
    the first leader (in ``order``) that overlaps it, a leader to itself.  Candidates are taken
    in blocks of ``BLOCK``: overlaps with the leaders found so far first, then the block's own
    greedy outcome (``nn.nms.suppression_keep``).

    Args:
        order: (C,) candidate indices, by decreasing priority.
        overlaps: ``f(leaders, others) -> (L, B) bool``, whether leader l claims candidate b.
    Returns:
        leaders (candidate indices, in priority order) and owner (C,) leader of each candidate
        (indexed by candidate, -1 for those not in ``order``).
    """
    owner = np.full(int(order.max(initial=-1)) + 1, -1, dtype=np.int64)
    leaders = np.zeros(0, dtype=np.int64)
    for start in range(0, len(order), BLOCK):
        block = order[start:start + BLOCK]
        if len(leaders):  # most candidates usually join an instance found before
            claimed = overlaps(leaders, block)  # (L, B)
            hit = claimed.any(axis=0)
            owner[block[hit]] = leaders[claimed.argmax(axis=0)[hit]]
            block = block[~hit]
        if len(block) == 0:
            continue
        inside = overlaps(block, block)
        np.fill_diagonal(inside, True)
        free = torch.ones((1, len(block)), dtype=torch.bool)
        keep = suppression_keep(torch.as_tensor(inside)[None], free)[0].numpy()
        # each of the rest belongs to the first new leader before it that claims it (a leader: itself)
        owner[block] = block[(np.triu(inside) & keep[:, None]).argmax(axis=0)]
        leaders = np.concatenate([leaders, block[keep]])
    return leaders, owner


def _score_order(scores: np.ndarray) -> np.ndarray:
    """Indices by decreasing score, ties in index order (as repeated ``np.argmax`` picks them)."""
    return np.argsort(-scores, kind="stable")


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


def _best_mode(members: np.ndarray, cand_score: np.ndarray, cand_3d: np.ndarray, th_pose3d: float,
               min_mode_score: float) -> tuple[float, int, np.ndarray]:
    """The instance's best mode (module docstring, step 3): (summed score, top candidate, members)."""
    def near(leaders: np.ndarray, others: np.ndarray) -> np.ndarray:
        return np.linalg.norm(cand_3d[others][None] - cand_3d[leaders][:, None], axis=-1).mean(axis=-1) < th_pose3d

    tops, _ = greedy_leaders(members[_score_order(cand_score[members])], near)
    # modes after the first stop at the first top below min_mode_score (tops are in score order)
    low = np.flatnonzero(cand_score[tops[1:]] < min_mode_score)
    tops = tops[:1 + (low[0] if len(low) else len(tops) - 1)]
    chunks = [near(tops[i:i + BLOCK], members) for i in range(0, len(tops), BLOCK)]
    within = np.concatenate(chunks) if chunks else np.zeros((0, len(members)), bool)
    within[np.arange(len(tops)), np.searchsorted(members, tops)] = True
    totals = np.array([float(cand_score[members][row].sum()) for row in within])
    best = int(np.argmax(totals))  # the first of equal totals, as a strict '>' keeps it
    return float(totals[best]), int(tops[best]), members[within[best]]


def _group_layout(owner_rank: np.ndarray, cand_score: np.ndarray, sizes: np.ndarray, ranks: np.ndarray, width: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(G, width) candidate indices of the instances ``ranks``, each row by decreasing score, and validity."""
    row_of = np.full(len(sizes), -1)
    row_of[ranks] = np.arange(len(ranks))
    chosen = np.flatnonzero(row_of[owner_rank] >= 0)
    chosen = chosen[np.lexsort((chosen, -cand_score[chosen], owner_rank[chosen]))]
    starts = np.searchsorted(owner_rank[chosen], ranks)
    rows = row_of[owner_rank[chosen]]
    cols = np.arange(len(chosen)) - starts[rows]
    index = np.zeros((len(ranks), width), dtype=np.int64)
    valid = np.zeros((len(ranks), width), dtype=bool)
    index[rows, cols], valid[rows, cols] = chosen, True
    return index, valid


def _best_modes(index: np.ndarray, valid: np.ndarray, cand_score: np.ndarray, cand_3d: np.ndarray, th_pose3d: float,
                min_mode_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step 3 for G small instances at once (rows of ``index``, by decreasing score).

    Returns each instance's best-mode total (G,), its top's column (G,) and its members (G, width).
    """
    poses = cand_3d[index]  # (G, S, J, 3)
    near = np.linalg.norm(poses[:, :, None] - poses[:, None], axis=-1).mean(axis=-1) < th_pose3d
    near |= np.eye(index.shape[1], dtype=bool)
    near &= valid[:, None, :] & valid[:, :, None]
    tops = suppression_keep(torch.as_tensor(near), torch.as_tensor(valid)).numpy()
    # modes after the first stop at the first top below min_mode_score (tops are in score order)
    score = np.where(valid, cand_score[index], 0.0)
    tops &= (score >= min_mode_score) | (np.arange(index.shape[1]) == 0)
    totals = np.where(tops, (near * score[:, None, :]).sum(axis=-1), -np.inf)
    best = totals.argmax(axis=1)  # the first of equal totals, as a strict '>' keeps it
    rows = np.arange(len(index))
    return totals[rows, best], best, near[rows, best]


def ppi(part: str, boxes: np.ndarray, scores: np.ndarray, pose2d: np.ndarray, pose3d: np.ndarray,
        score_th: float | None = None, th_iou: float = 0.2, th_pose3d: float = 0.3, min_mode_score: float = 0.05,
        th_detect: float = 0.002, hand_classes_per_side: int | None = None, upper_body_from: int | None = None,
        lower_body_joints: tuple[int, ...] = (), overlap: str = "bbox") -> list[PartDetection]:
    """Pose-proposal integration for one part of one image (module docstring).

    Args:
        boxes: (N, 4) proposals, original pixels; scores: (N, K + 1) softmax, column 0 background.
        pose2d: (N, K, J, 2) original pixels; pose3d: (N, K, J, 3) metres.
        Tensors (on any device) or arrays.
    """
    if overlap not in ("bbox", "mje"):
        raise ValueError(f"unknown PPI overlap {overlap!r}; choose 'bbox' or 'mje'")
    num_classes = np.shape(scores)[1] - 1
    threshold = 0.1 / num_classes if score_th is None else score_th
    # step 1 on the outputs' device: only the candidates come to the host (models.dope.post_device)
    found = ppi_candidates(boxes, scores, pose2d, pose3d, threshold)
    if found is None:
        return []
    boxes, rows, classes, cand_score, cand_2d, cand_3d = (found.boxes, found.rows, found.classes, found.score,
                                                          found.pose2d, found.pose3d)
    # Step 2 is greedy clustering: an instance's leader is the best candidate no earlier leader claims.
    leaders, owner = _instances(overlap, rows, cand_score, boxes, cand_2d, th_iou)
    rank = np.full(len(owner), -1)
    rank[leaders] = np.arange(len(leaders))
    owner_rank = rank[owner]
    sizes = np.bincount(owner_rank, minlength=len(leaders))
    found = {}  # instance rank -> (total, top candidate, members)
    # small instances in batches of similar size; the few large ones one by one, in blocks
    width = 1
    while width <= SMALL_INSTANCE:
        ranks = np.flatnonzero((sizes <= width) & (sizes > width // 2))
        per_batch = max(1, 2 ** 22 // (width * width * cand_3d.shape[1]))
        for start in range(0, len(ranks), per_batch):
            index, valid = _group_layout(owner_rank, cand_score, sizes, ranks[start:start + per_batch], width)
            totals, best, members = _best_modes(index, valid, cand_score, cand_3d, th_pose3d, min_mode_score)
            for r, total, top, row, member in zip(ranks[start:start + per_batch], totals, best, index, members):
                found[r] = (total, row[top], np.sort(row[member]))
        width *= 2
    by_owner = np.argsort(owner_rank, kind="stable")  # members of each instance, in candidate order
    bounds = np.searchsorted(owner_rank[by_owner], np.arange(len(leaders))[:, None] + np.array([0, 1]))
    for r in np.flatnonzero(sizes > SMALL_INSTANCE):
        found[r] = _best_mode(by_owner[bounds[r, 0]:bounds[r, 1]], cand_score, cand_3d, th_pose3d, min_mode_score)
    detections = []
    for r in range(len(leaders)):
        total, top_index, members = found[r]
        if total > th_detect:
            mean2d, mean3d = _weighted_mode(cand_score[members], classes[members], cand_2d[members], cand_3d[members],
                                            upper_body_from, lower_body_joints)
            detections.append(PartDetection(part, float(total), mean2d, mean3d, boxes[rows[top_index]].copy(),
                                            _side(part, int(classes[top_index]), hand_classes_per_side)))
    return sorted(detections, key=lambda d: -d.score)


def _nms_settings(min_score: float = 0.3, iou: float = NMS_IOU, hand_classes_per_side: int | None = None
                  ) -> tuple[float, float, int | None]:
    """:func:`pose_nms`'s keyword arguments (a misspelt one fails as it would there)."""
    return min_score, iou, hand_classes_per_side


def _nms_detections(part: str, kept: KeptPoses, hand_classes_per_side: int | None) -> list[PartDetection]:
    return [PartDetection(part, float(kept.score[i]), kept.pose2d[i], kept.pose3d[i], kept.box[i],
                          _side(part, int(kept.classes[i]), hand_classes_per_side)) for i in range(len(kept.score))]


def pose_nms(part: str, boxes, scores, pose2d, pose3d, min_score: float = 0.3, iou: float = NMS_IOU,
             hand_classes_per_side: int | None = None) -> list[PartDetection]:
    """DOPE's NMS alternative for one part of one image (module docstring), on the device of the
    inputs (``models.dope.post_device``); same inputs as :func:`ppi`."""
    (kept,) = pose_nms_parts(boxes, [scores], [pose2d], [pose3d], [min_score], [iou], POSE_BOX_MARGIN)
    return _nms_detections(part, kept, hand_classes_per_side)


def detect_parts(output: dict[str, torch.Tensor], parts: tuple[str, ...], hand_classes_per_side: int,
                 method: str = "nms", part_kwargs: dict[str, dict] | None = None) -> dict[str, list[PartDetection]]:
    """Run PPI or NMS on every part of one image's ``DOPE.forward`` output.

    ``part_kwargs[part]`` overrides that part's thresholds (the checkpoint's ``<part>_ppi_kwargs``).
    """
    if method not in POST_PROCESSING:
        raise ValueError(f"unknown DOPE post-processing {method!r}; choose 'ppi' or 'nms'")
    kwargs = {}
    for part in parts:
        kwargs[part] = dict((part_kwargs or {}).get(part, {}))
        if part == "hand":
            kwargs[part].setdefault("hand_classes_per_side", hand_classes_per_side)
    if method == "ppi":
        return {part: ppi(part, *(output[key] for key in ("boxes", f"{part}_scores", f"{part}_pose2d", f"{part}_pose3d")),
                          **kwargs[part]) for part in parts}
    # NMS: every part in one batch on the output's device, a few host syncs in all
    settings = [_nms_settings(**kwargs[part]) for part in parts]
    kept = pose_nms_parts(output["boxes"], [output[f"{p}_scores"] for p in parts], [output[f"{p}_pose2d"] for p in parts],
                          [output[f"{p}_pose3d"] for p in parts], [s[0] for s in settings], [s[1] for s in settings],
                          POSE_BOX_MARGIN)
    return {part: _nms_detections(part, k, s[2]) for part, k, s in zip(parts, kept, settings)}
