"""Person boxes from several whole-image detectors, fused into one set (one box per person).

MoveNet-MultiPose at 256 px (``person_detector.MoveNetDetector``) is fast and gives the 17 COCO
points the body expert fuses with, but it returns at most 6 people and misses people in groups
(3 of 4 on group photos).  ``PeopleDetector`` therefore adds MoveNet on two overlapping tiles
(``TILE_FRACTION``: people twice as large, a 6-person cap per tile) and two detectors that err
differently: CenterNet (COCO person class, 512 px, up to 100 boxes) and MediaPipe's BlazePose
detector (face / upper-body anchored: it finds waist-up people that the others cut).

Cost is kept in check by escalation: MoveNet runs on every image (with a low candidate
threshold); the other two run only when MoveNet's answer is not "exactly one person and no
other candidate" (``ESCALATE_SCORE``); the tiles run with them, i.e. on groups, on empty answers and when a weak second
candidate hints at a missed person.  A single clearly detected person costs what it cost
before.

Fusion: detections of different detectors that overlap (``same_person``) form one cluster.
``"nms"`` keeps the cluster's best box by detector priority (MoveNet first: its box comes with
keypoints); ``"wbf"`` (weighted box fusion) averages the MoveNet and CenterNet boxes of a
cluster, weighted by score (BlazePose's square body-circle boxes have another shape and are not
averaged).  The cluster score (``score_rule``) is by default its first member's calibrated score
(``CALIBRATION``): MoveNet's where MoveNet found the person, so its ranking of the people it
finds is unchanged.  ``"noisy_or"`` combines the members' calibrated scores, so a person seen by
two detectors ranks above one seen by one; measured on the COCO-WholeBody fixtures it reorders
true people across images and costs whole-body AP (0.488 vs 0.502), so it is not the default.
Boxes with no MoveNet member carry NaN keypoints (the body expert then runs on its own evidence).
Duplicates the box fusion leaves are removed after the body expert (``experts.assemble.duplicates``).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

import numpy as np

from wholebody.experts.detect.detections import Detections
from wholebody.experts.detect.planar import PlanarImage

log = logging.getLogger(__name__)

# Score multipliers that bring each detector to MoveNet's scale (median score of the people in
# ../shared/media/photos: MoveNet 0.41, CenterNet 0.53, BlazePose 0.75).
CALIBRATION = {"movenet": 1.0, "tiles": 1.0, "centernet": 0.75, "blazepose": 0.55}
PRIORITY = ("movenet", "tiles", "centernet", "blazepose")
TILE_FRACTION = 0.6  # two tiles, each this fraction of the image's longer side (20 % overlap)
MOVENET_THRESHOLD = 0.1  # MoveNet's own person threshold (see person_detector)
ESCALATE_SCORE = 0.05  # a second MoveNet candidate above this (below the threshold) escalates; a lone
# person gives candidates <= 0.033 (fixture 785), a cut-off 4th person on bus.jpg 0.094
SAME_IOU = 0.5  # two boxes of different detectors with IoU above this are one person
SAME_CONTAINED = 0.8  # ... or the smaller one lies this much inside the other and the centres are near
CENTRE_NEAR = 0.25  # centre distance, as a fraction of the larger box's longer side


def box_overlap(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(IoU, intersection over the smaller area) of two ``[x, y, w, h]`` boxes."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(x2 - x1, 0.0) * max(y2 - y1, 0.0)
    area_a, area_b = a[2] * a[3], b[2] * b[3]
    union = area_a + area_b - inter
    return (inter / union if union > 0 else 0.0), (inter / min(area_a, area_b) if min(area_a, area_b) > 0 else 0.0)


def same_person(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two boxes (of different detectors) most likely frame the same person."""
    iou, contained = box_overlap(a, b)
    if iou >= SAME_IOU:
        return True
    centre_gap = np.hypot(*((a[:2] + a[2:] / 2) - (b[:2] + b[2:] / 2)))
    return contained >= SAME_CONTAINED and centre_gap <= CENTRE_NEAR * max(a[2], a[3], b[2], b[3])


def fuse_detections(found: dict[str, Detections], method: str = "nms", score_rule: str = "first") -> Detections:
    """One box per person from several detectors' ``Detections`` (module docstring).

    Args:
        found: detector name (a key of ``CALIBRATION``) -> its detections, boxes ``[x, y, w, h]``
            in original pixels; MoveNet's have (N, 17, 3) keypoints.
        method: ``"nms"`` or ``"wbf"``.
        score_rule: ``"first"`` (the score of the cluster's first member by ``PRIORITY``) or
            ``"noisy_or"`` (see the module docstring).
    Returns:
        ``Detections`` best score first; keypoints (N, 17, 3), NaN where no MoveNet box joined.
    """
    if method not in ("nms", "wbf"):
        raise ValueError(f"fusion method must be 'nms' or 'wbf', got {method!r}")
    members = []  # (priority, calibrated score, name, box, keypoints or None)
    for name in PRIORITY:
        det = found.get(name)
        if det is None:
            continue
        for i, (box, score) in enumerate(zip(det.boxes, det.scores)):
            keypoints = det.keypoints[i] if name in ("movenet", "tiles") and det.keypoints is not None else None
            members.append((PRIORITY.index(name), CALIBRATION[name] * float(score), name, box, keypoints))
    members.sort(key=lambda m: (m[0], -m[1]))  # MoveNet first, then by score: MoveNet boxes seed clusters
    clusters: list[list] = []
    for member in members:
        home = None
        for cluster in clusters:
            if member[2] not in {m[2] for m in cluster} and same_person(cluster[0][3], member[3]):
                home = cluster
                break
        if home is None:
            clusters.append([member])
        else:
            home.append(member)
    boxes, scores, keypoints = [], [], []
    for cluster in clusters:
        boxes.append(_cluster_box(cluster, method))
        scores.append(_cluster_score(cluster, score_rule))
        own = next((m[4] for m in cluster if m[4] is not None), None)
        keypoints.append(np.full((17, 3), np.nan) if own is None else np.asarray(own, dtype=np.float64))
    if not boxes:
        return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 17, 3)))
    order = np.argsort(-np.array(scores), kind="stable")
    return Detections(np.array(boxes)[order], np.array(scores)[order], np.array(keypoints)[order])


def _cluster_score(cluster: list, rule: str) -> float:
    if rule == "first":
        return float(cluster[0][1])
    return 1.0 - float(np.prod([1.0 - min(m[1], 1.0) for m in cluster]))


def _cluster_box(cluster: list, method: str) -> np.ndarray:
    if method == "nms":
        return np.asarray(cluster[0][3], dtype=np.float64)
    rect = [m for m in cluster if m[2] != "blazepose"] or cluster
    weights = np.array([m[1] for m in rect]) + 1e-9
    corners = np.array([[m[3][0], m[3][1], m[3][0] + m[3][2], m[3][1] + m[3][3]] for m in rect])
    x1, y1, x2, y2 = (corners * weights[:, None]).sum(axis=0) / weights.sum()
    return np.array([x1, y1, x2 - x1, y2 - y1])


class PeopleDetector:
    """MoveNet, escalating to CenterNet and the BlazePose detector (module docstring).

    ``detector(image) -> Detections`` for an (H, W, 3) uint8 RGB image; boxes in original
    pixels.  ``last_timing`` / ``last_cpu`` hold the wall / process-CPU milliseconds each detector
    took on the last image.

    Args:
        num_threads: threads per model call.
        fusion: ``"nms"`` or ``"wbf"``.
        escalate: run the tiles, CenterNet and BlazePose when MoveNet's answer is not one clear person;
            False runs MoveNet only (the previous default); ``"always"`` runs all four.
        score_rule: cluster score, ``"first"`` or ``"noisy_or"`` (``fuse_detections``).
    """

    def __init__(self, num_threads: int = 1, fusion: str = "nms", escalate: bool | str = True,
                 score_rule: str = "first") -> None:
        from wholebody.experts.detect.person_detector import MoveNetDetector

        self.movenet = MoveNetDetector(num_threads=num_threads, score_threshold=ESCALATE_SCORE)
        self.num_threads, self.fusion, self.escalate, self.score_rule = num_threads, fusion, escalate, score_rule
        self._centernet = self._blazepose = None
        self.last_timing: dict[str, float] = {}
        self.last_cpu: dict[str, float] = {}

    def _tiles(self, image: np.ndarray | PlanarImage) -> Detections:
        """MoveNet on two overlapping halves of the image (``TILE_FRACTION`` of the longer side):
        people in a group are twice as large there, and each tile has its own 6-person cap.
        ``image``: an (H, W, 3) uint8 array or its ``PlanarImage``."""
        h, w = image.shape[:2]
        along = 1 if w >= h else 0
        side = image.shape[along]
        cut = int(round(TILE_FRACTION * side))
        boxes, scores, keypoints = [], [], []
        for start in (0, side - cut):
            tile = image[:, start:start + cut] if along else image[start:start + cut]
            found = self.movenet(tile)  # a view: letterbox makes its one planar float copy
            keep = found.scores >= MOVENET_THRESHOLD
            shift = np.array([start, 0.0]) if along else np.array([0.0, start])
            boxes.append(found.boxes[keep] + np.concatenate([shift, [0.0, 0.0]]))
            scores.append(found.scores[keep])
            points = found.keypoints[keep].copy()
            points[..., :2] += shift
            keypoints.append(points)
        boxes, scores, keypoints = np.concatenate(boxes), np.concatenate(scores), np.concatenate(keypoints)
        from wholebody.experts.detect.boxes import nms

        corners = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)
        order = nms(corners, scores, 0.5) if len(boxes) else np.zeros(0, dtype=np.int64)
        return Detections(boxes[order], scores[order], keypoints[order])

    def _extra_detectors(self) -> dict:
        if self._centernet is None:
            from wholebody.experts.detect.blazepose_detector import BlazePoseDetector
            from wholebody.experts.detect.person_detector import CenterNetDetector

            self._centernet = CenterNetDetector(num_threads=self.num_threads)
            self._blazepose = BlazePoseDetector(num_threads=self.num_threads)
        return {"tiles": self._tiles, "centernet": self._centernet, "blazepose": self._blazepose}

    def __call__(self, image: np.ndarray) -> Detections:
        self.last_timing, self.last_cpu = {}, {}
        candidates, planar = self._timed("movenet", self._movenet_shared, image)
        strong = candidates.scores >= MOVENET_THRESHOLD
        movenet = Detections(candidates.boxes[strong], candidates.scores[strong], candidates.keypoints[strong])
        found = {"movenet": movenet}
        if self.escalate == "always" or (self.escalate and not (strong.sum() == 1 and len(strong) == 1)):
            for name, detector in self._extra_detectors().items():
                found[name] = self._timed(name, detector, image if name == "blazepose" else planar)
        return fuse_detections(found, self.fusion, self.score_rule)

    def _movenet_shared(self, image: np.ndarray) -> tuple[Detections, PlanarImage]:
        """MoveNet's candidates, and the image converted to float once (``planar.PlanarImage``):
        MoveNet, its tiles and CenterNet letterbox the same pixels (BlazePose's detector cuts its
        own crop from the uint8 image)."""
        planar = PlanarImage.of(image)
        return self.movenet(planar), planar

    def _timed(self, name: str, detector, image: np.ndarray):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = detector(image)
        self.last_timing[name] = (time.perf_counter() - start) * 1000.0
        self.last_cpu[name] = (time.process_time() - start_cpu) * 1000.0
        return result


def default_person_detector(num_threads: int = 1) -> Callable[[np.ndarray], Any]:
    """The project's person detector, or MediaPipe's BlazePose detector when it is not available.

    The preferred detector is MoveNet-MultiPose (``wholebody.experts.detect.person_detector``), which
    needs prepared model files (``wholebody models prepare``) and torch; without them the
    BlazePose fallback is used and a warning says so.
    """
    try:
        from wholebody.experts.detect.person_detector import make_person_detector

        return make_person_detector("movenet", num_threads=num_threads)
    except (ImportError, FileNotFoundError) as err:
        log.warning("default person detector unavailable (%s); falling back to MediaPipe's BlazePose detector, "
                    "which misses small and occluded people", err)
    from wholebody.experts.detect.blazepose_detector import BlazePoseDetector

    return BlazePoseDetector(num_threads=num_threads)


def default_people_detector(num_threads: int = 1):
    """``PeopleDetector``, or ``default_person_detector``'s fallback when MoveNet is not prepared."""
    from wholebody.experts.runtime.models import ModelNotPreparedError

    try:
        return PeopleDetector(num_threads=num_threads)
    except (ImportError, FileNotFoundError, ModelNotPreparedError) as err:
        log.warning("people detector unavailable (%s); using the fallback person detector", err)
    return default_person_detector(num_threads)
