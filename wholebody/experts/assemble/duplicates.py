"""One body per person: skeletons that coincide are one person.

Several detectors (``detect.people``) and video carry-over give more than one box per person,
and a body crop that holds two people can make BlazePose lock onto the neighbour: the box of
a person the crop missed then carries the neighbour's body (issue 13: a missed woman's box
with the next woman's nose).  Both show up the same way: two bodies whose 17 COCO points
coincide, or at least their heads (a head has one owner).  ``duplicate_of`` finds them by the
COCO object keypoint similarity (OKS, body sigmas) between the two skeletons, over the points
both score above ``POINT_SCORE``, with the area of the larger skeleton's point extent as the
scale, and by the distance between their head centres (``same_head``).

Threshold ``SAME_OKS`` = 0.5, measured on insightface_t1.jpg (6 people, 8 fused boxes): the
same person from two boxes gave body OKS 0.72-0.84, different people 0.0-0.19 (0.19: a man
and the woman leaning over him).  0.5 is the COCO midpoint of "the same pose".

Which of a pair keeps the body (``resolve_duplicates``): the one whose own detector points agree
with it (body OKS), else the better-ranked one (faceapi_sample5: a woman's box produced her
neighbour's body at a higher score than the neighbour's own box).  The other one: the body expert is
run again on its own evidence, first a crop around its detector keypoints (if it has any that
are not the other person's), then the head end of its box (``upper_box``); if that still lands
on the other person, the detector's points become the body, or, without them, it is dropped.
Last, what still coincides is dropped, and so is a fragment (``part_of``): a smaller body that
lies inside a better-ranked person's box and point extent (a detection of one person's legs).
"""

from __future__ import annotations

import numpy as np

from wholebody.schema import SIGMAS

SAME_OKS = 0.5
POINT_SCORE = 0.2
MIN_COMMON = 4  # fewer common confident points say nothing
INSIDE = 0.9  # part_of: share of the smaller box inside the larger one
# part_of: share of the fragment's confident points inside the larger body's point extent (the rest
# must still lie in its box).  The jumping man's leg fragment (pose2sim cam01) had its ankles
# below his own skeleton's, which stopped short of his feet: 0.76-0.94 inside in 16 frames.
FRAGMENT_INSIDE = 0.75
BODY = slice(0, 17)
HEAD = slice(0, 5)  # nose, eyes, ears
# part_of / is_fragment, measured on pose2sim cam01 (the jumping man): his leg detections' boxes were
# 40-62 % of his own box, with body OKS 0.27-0.49 to his skeleton when they ranked higher; a small
# person in front of a larger one has OKS near 0.  With 0.5 / 0.3 a partial body stayed in 7 frames.
FRAGMENT_AREA = 0.65  # a fragment's box is smaller than this share of the larger box
FRAGMENT_OKS = 0.25  # a fragment that ranks higher still gives way above this body OKS
OWNS_OKS = 0.3  # body OKS with a box's own detector points above which the body is that box's
# Two heads are one when their centres are closer than this fraction of the head size (the
# larger extent of the confident nose / eye / ear points).  Heads of different people are at
# least about a head apart even when they touch; the same head seen by two crops was 0.1-0.3
# of a head apart on the photos (faceapi_sample6: a stray BlazePose box's head 23 px from a
# woman's on a 200 px head; insightface_t1: two skeletons on one man 45 px apart, head 150 px).
HEAD_SAME_FRACTION = 0.5


def body_oks(a: np.ndarray, b: np.ndarray, point_score: float = POINT_SCORE) -> float:
    """OKS between two (>= 17, 3) skeletons (x, y in pixels, score) over their 17 body points.

    The scale is the area of the larger of the two skeletons' point extents; 0 when fewer than
    ``MIN_COMMON`` points are scored above ``point_score`` (and finite) in both.
    """
    a = np.asarray(a, dtype=np.float64)[BODY]
    b = np.asarray(b, dtype=np.float64)[BODY]
    both = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    both &= (np.nan_to_num(a[:, 2]) > point_score) & (np.nan_to_num(b[:, 2]) > point_score)
    if both.sum() < MIN_COMMON:
        return 0.0
    area = max(_extent_area(a[both, :2]), _extent_area(b[both, :2]), 1.0)
    d2 = ((a[both, :2] - b[both, :2]) ** 2).sum(axis=1)
    return float(np.exp(-d2 / (2 * area * (2 * SIGMAS[BODY][both]) ** 2)).mean())


def same_skeleton(a: np.ndarray, b: np.ndarray, threshold: float = SAME_OKS) -> bool:
    """Two skeletons are one person: their bodies coincide, or their heads do (a head has one owner;
    a body crop that drifted onto a neighbour keeps the neighbour's head but not its limbs)."""
    return body_oks(a, b) > threshold or same_head(a, b)


def same_head(a: np.ndarray, b: np.ndarray, point_score: float = POINT_SCORE) -> bool:
    """Whether two skeletons' heads (>= 3 common confident nose / eye / ear points) are one head."""
    a = np.asarray(a, dtype=np.float64)[HEAD]
    b = np.asarray(b, dtype=np.float64)[HEAD]
    both = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    both &= (np.nan_to_num(a[:, 2]) > point_score) & (np.nan_to_num(b[:, 2]) > point_score)
    if both.sum() < 3:
        return False
    size = max(float(np.ptp(a[both, :2], axis=0).max()), float(np.ptp(b[both, :2], axis=0).max()), 1.0)
    gap = float(np.hypot(*(a[both, :2].mean(axis=0) - b[both, :2].mean(axis=0))))
    return gap < HEAD_SAME_FRACTION * size


def _extent_area(points: np.ndarray) -> float:
    span = points.max(axis=0) - points.min(axis=0)
    return float(span[0] * span[1])


def part_of(small: np.ndarray, small_box: np.ndarray, large: np.ndarray, large_box: np.ndarray,
            point_score: float = POINT_SCORE) -> bool:
    """Whether a body is a fragment of another: its box is under ``FRAGMENT_AREA`` of the other's and lies inside
    it (>= ``INSIDE`` of its area), and its confident body points lie inside the other's box (grown by
    10 %), at least ``FRAGMENT_INSIDE`` of them inside the other body's confident point extent (grown
    by 10 %).  A detection of a jumping man's legs alone gave a
    squashed second body there (pose2sim cam01), far from his own points in OKS terms."""
    small_box, large_box = np.asarray(small_box, dtype=np.float64), np.asarray(large_box, dtype=np.float64)
    if small_box[2] * small_box[3] >= FRAGMENT_AREA * large_box[2] * large_box[3]:
        return False
    x1, y1 = np.maximum(small_box[:2], large_box[:2])
    x2, y2 = np.minimum(small_box[:2] + small_box[2:], large_box[:2] + large_box[2:])
    if max(x2 - x1, 0.0) * max(y2 - y1, 0.0) < INSIDE * small_box[2] * small_box[3]:
        return False
    a, b = np.asarray(small, dtype=np.float64)[BODY], np.asarray(large, dtype=np.float64)[BODY]
    mine, theirs = a[a[:, 2] > point_score, :2], b[b[:, 2] > point_score, :2]
    if len(mine) < MIN_COMMON or len(theirs) < MIN_COMMON:
        return False
    low, high = theirs.min(axis=0), theirs.max(axis=0)
    grow = 0.1 * (high - low)
    inside = ((mine >= low - grow) & (mine <= high + grow)).all(axis=1)
    box_low, box_high = large_box[:2] - 0.1 * large_box[2:], large_box[:2] + 1.1 * large_box[2:]
    in_box = ((mine >= box_low) & (mine <= box_high)).all()
    return bool(in_box and inside.mean() >= FRAGMENT_INSIDE)


def is_fragment(small, small_rank: float, large, large_rank: float) -> bool:
    """Whether ``small`` (a ``Person``) is a fragment of ``large`` and gives way to it: ``part_of`` holds and
    either ``large`` ranks higher or the two skeletons nearly coincide (body OKS above ``FRAGMENT_OKS``).

    The second case is a detection of one person's legs whose crop still found the whole person
    (pose2sim cam01, the jumping man: the leg box ranked above his own box, body OKS 0.45-0.49
    in 8 frames, just under ``SAME_OKS``).  Kept apart, the two took turns in the video and the
    man changed track id; the larger box is kept, as it holds the whole skeleton.  A small
    person in front of a larger one has other points (OKS near 0) and stays.
    """
    if not part_of(small.keypoints, small.bbox, large.keypoints, large.bbox):
        return False
    return large_rank > small_rank or body_oks(small.keypoints, large.keypoints) > FRAGMENT_OKS


def duplicate_of(skeletons: list[np.ndarray], scores: list[float], threshold: float = SAME_OKS) -> list[int | None]:
    """For each skeleton, the index of a better-scored skeleton it coincides with, or None.

    Args:
        skeletons: per person, (>= 17, 3) points x, y (original pixels), score.
        scores: per person, the ranking score (higher wins; ties: the earlier one wins).
        threshold: body OKS above which two skeletons are one person.
    """
    order = sorted(range(len(skeletons)), key=lambda i: (-scores[i], i))
    result: list[int | None] = [None] * len(skeletons)
    kept: list[int] = []
    for i in order:
        for k in kept:
            if same_skeleton(skeletons[i], skeletons[k], threshold):
                result[i] = k
                break
        else:
            kept.append(i)
    return result


def upper_box(box: np.ndarray) -> np.ndarray:
    """The top of a ``[x, y, w, h]`` person box, at most 1.2 x its width tall: a crop centred on
    the head and shoulders, which BlazePose (trained with face-anchored crops) locks onto even
    when the whole-box crop holds a more prominent neighbour (insightface t1: 2 people more)."""
    x, y, w, h = np.asarray(box, dtype=np.float64)
    return np.array([x, y, w, min(h, 1.2 * w)])


def retry_boxes(box: np.ndarray, prior17: np.ndarray | None) -> list[np.ndarray]:
    """Boxes to re-run the body expert on for a person whose first crop failed or found someone else:
    the box around its own detector points (if any), then the top of its box."""
    own = own_evidence_box(prior17)
    return ([] if own is None else [own]) + [upper_box(box)]


def own_evidence_box(prior17: np.ndarray | None, margin: float = 0.2,
                     point_score: float = POINT_SCORE) -> np.ndarray | None:
    """A ``[x, y, w, h]`` box around a detector's confident points (grown by ``margin`` per side), or None."""
    if prior17 is None:
        return None
    prior = np.asarray(prior17, dtype=np.float64)
    ok = np.isfinite(prior).all(axis=1) & (np.nan_to_num(prior[:, 2]) > point_score)
    if ok.sum() < MIN_COMMON:
        return None
    low, high = prior[ok, :2].min(axis=0), prior[ok, :2].max(axis=0)
    size = high - low
    return np.concatenate([low - margin * size, size * (1 + 2 * margin)])


def resolve_duplicates(image: np.ndarray, people: list, bodies: list, scores: list[float], priors: list,
                       run_body, threshold: float = SAME_OKS) -> list[bool]:
    """Remove or re-estimate duplicate bodies in place (module docstring); all lists stay aligned.

    Args:
        image: the (H, W, 3) uint8 RGB image.
        people, bodies, scores, priors: per person the ``Person`` (body filled), its
            ``BodyLandmarks``, box score, and (17, 3) detector points or None.
        run_body: ``(image, box_xywh) -> (Person, BodyLandmarks)`` for a re-estimate.
    Returns:
        per remaining person, whether its body is the detector's points (the body expert kept
        landing on another person), so its head must come from the detector too.
    """
    from_prior = [False] * len(people)
    for _ in range(2):  # a re-estimate may itself coincide with someone: look once more
        ranks = [s * p.part_scores["body"] for s, p in zip(scores, people)]
        dup = duplicate_of([p.keypoints for p in people], ranks, threshold)
        if all(d is None for d in dup):
            break
        drop, handled = set(), set()
        for i, keeper in enumerate(dup):
            if keeper is None:
                continue
            if _agreement(people[i], priors[i]) > max(_agreement(people[keeper], priors[keeper]), OWNS_OKS):
                i, keeper = keeper, i  # the body is i's by i's own detector points: the other box re-estimates
            if i in handled or keeper in drop:
                continue
            handled.add(i)
            prior, other = priors[i], people[keeper].keypoints
            prior_is_other = prior is None or same_skeleton(prior, other, threshold)
            person, body = None, None
            for box in retry_boxes(people[i].bbox, None if prior_is_other else prior):
                person, body = run_body(image, box)
                if person is not None and not same_skeleton(person.keypoints, other, threshold):
                    break
            if person is None or same_skeleton(person.keypoints, other, threshold):
                if prior_is_other or own_evidence_box(prior) is None:
                    drop.add(i)  # no evidence of its own, or its own evidence is the other person
                    continue
                if person is None:  # the detector's points alone, with the first crop's landmarks for the rest
                    person, body = people[i], bodies[i]
                _use_prior_body(person, prior)
                from_prior[i] = True
            person.bbox = people[i].bbox
            people[i], bodies[i] = person, body
        for lists in (people, bodies, scores, priors, from_prior):
            lists[:] = [x for j, x in enumerate(lists) if j not in drop]
    # What still coincides after the re-estimates (a re-estimate that found the same person again)
    # is one person: the better-ranked body stays.
    ranks = [s * p.part_scores["body"] for s, p in zip(scores, people)]
    drop = {i for i, keeper in enumerate(duplicate_of([p.keypoints for p in people], ranks, threshold))
            if keeper is not None}
    drop |= {i for i in range(len(people)) for k in range(len(people))
             if k != i and k not in drop and is_fragment(people[i], ranks[i], people[k], ranks[k])}
    for lists in (people, bodies, scores, priors, from_prior):
        lists[:] = [x for j, x in enumerate(lists) if j not in drop]
    return from_prior


def _agreement(person, prior17: np.ndarray | None) -> float:
    """Body OKS between a person's body and its own box's detector points (0 without them)."""
    return 0.0 if prior17 is None else body_oks(person.keypoints, prior17)


def _use_prior_body(person, prior17: np.ndarray) -> None:
    """The detector's 17 points become the person's body; feet and body 3D are unknown then."""
    prior = np.nan_to_num(np.asarray(prior17, dtype=np.float64))
    person.keypoints[BODY] = prior
    person.keypoints[17:23, 2] = 0.0
    person.keypoints_3d["body"] = None
    person.part_scores["body"] = float(prior[:, 2].mean())
    person.part_scores["foot"] = 0.0
