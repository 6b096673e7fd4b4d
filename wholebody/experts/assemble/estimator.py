"""Multi-person whole-body estimator from MediaPipe 0.10.14's bundled part experts.

Pipeline per image (all coordinates original pixels):
1. person boxes: given, or from the person detector;
2. body: ``pose_landmark_full`` on each person crop, then BlazePose *heavy* on MediaPipe's
   re-crop (tracking) ROI -> 17 body points, big toes and heels, metric 3D; fused with the
   detector's 17 points, and where BlazePose put the head on another person's
   (``fusion.claimed_heads``) the detector's upper body (head, shoulders, elbows, wrists) is used;
3. hands: a zoomed, forearm-aligned crop around each wrist -> the ``full`` and ``lite`` hand
   landmark models, each on the crop and its mirror, averaged; with the palm-found hands (and a
   palm search around wrists still without a hand) given one-to-one to (person, side) slots
   (``hand_assembly``);
4. face: a head crop from the body's head points -> 468-point mesh -> iBUG 68 (or dlib's
   68-point predictor); faces join bodies by DOPE's head-point-in-face-box rule;
5. scores, part boxes and 3D per part -> ``wholebody.types.Person``.

3D (``Person.keypoints_3d``, metres, image-aligned axes: x right, y down, z away): body = the
23 body+foot points of BlazePose's world landmarks (origin between the hips, metric scale
from the GHUM body model); hands = the hand model's world landmarks minus the wrist; face =
the 68 mesh points minus their centroid, scaled by an assumed 63 mm pupil distance (none
with dlib).  Models run with the TFLite interpreter of ai-edge-litert on our own crops.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np

from wholebody.experts.assemble.carry import CARRY_PRESENCE, add_carried, carried_body, lands_on_found
from wholebody.experts.assemble.duplicates import resolve_duplicates, upper_box
from wholebody.experts.assemble.face_search import search_from_faces
from wholebody.experts.assemble.fusion import claimed_heads
from wholebody.experts.assemble.hand_assembly import HandAssembler
from wholebody.experts.assemble.limbs import fix_limbs
from wholebody.experts.assemble.person import attach_faces, body_person, finish_scores
from wholebody.experts.detect.detections import as_detections
from wholebody.experts.landmarks.body import BodyExpert, BodyLandmarks
from wholebody.experts.landmarks.face import FaceExpert, head_crop
from wholebody.experts.landmarks.hands import HandExpert, wrist_crop
from wholebody.experts.landmarks.point_scores import body_part_scores, cap_unseen_scores
from wholebody.experts.runtime.reuse import ImageRuns
from wholebody.experts.runtime.tflite import default_num_threads
from wholebody.types import Person, too_small_for_people

log = logging.getLogger(__name__)

# BlazePose landmark indices used to build head crops.
HEAD_POINTS = list(range(11))  # nose, eyes (inner, centre, outer), ears, mouth corners
NOSE, LEFT_EYE, RIGHT_EYE = 0, 2, 5
LEFT_SHOULDER, RIGHT_SHOULDER = 11, 12
# COCO-WholeBody indices (after fusion) used to build head and hand crops.
COCO_HEAD = slice(0, 5)  # nose, eyes, ears
COCO_UPPER_BODY = slice(0, 11)  # the head, shoulders, elbows and wrists
COCO_NOSE, COCO_LEFT_EYE, COCO_RIGHT_EYE = 0, 1, 2
ELBOWS = {"left": 7, "right": 8}
WRISTS = {"left": 9, "right": 10}
# hand_model choice -> bundled hand landmark models whose outputs are averaged.
HAND_MODELS = {
    "both": ("hand_landmark_full", "hand_landmark_lite"),
    "full": ("hand_landmark_full",),
    "lite": ("hand_landmark_lite",),
}


class WholeBodyEstimator:
    """Every person in an image, 133 COCO-WholeBody keypoints each, from MediaPipe's part experts.

    Args:
        detector: callable ``image -> detections`` (boxes ``[x, y, w, h]`` in original pixels and
            scores; see ``detect.detections.as_detections``); None picks the default person detector
            (falls back to MediaPipe's BlazePose detector when the default is not prepared).
        face: ``"mesh"`` (MediaPipe face mesh -> 68), ``"dlib"`` (dlib's 68-point predictor on the
            head crop) or None (no face).
        hand_zoom: run the hand model on zoomed wrist crops; False leaves hands empty (score 0).
        num_threads: threads per model call (TFLite and onnxruntime); None: the machine's cores,
            at most 4 (``runtime.tflite.default_num_threads``).
        body_box_scale: person crop side as a multiple of the box's longer side.
        body_refine: second body pass on MediaPipe's tracking ROI.
        body_model: model of that second pass: ``"heavy"`` (BlazePose heavy from the prepared
            model files; whole-body AP 0.502 vs 0.356 on the fixtures, ~30 ms more per person on
            one thread; falls back to ``"full"`` with a warning when not prepared) or ``"full"``.
        hand_side, hand_shift: wrist crop side and centre shift, in forearm lengths.
        hand_recrop: pass each wrist crop through MediaPipe Holistic's hand re-crop model first.
        hand_model: ``"both"`` (the average of ``full`` and ``lite``), ``"full"`` or ``"lite"``
            (half the time of ``full``).
        hand_mirror: also run the hand models on the mirrored crop and average (flip test).
            With the defaults (``both``, mirrored) whole-body AP on the fixtures is 0.502 (0.463
            with ``full`` alone, 0.486 with ``lite`` mirrored), mean hand error on the RHD fixture
            hands 4.16 px (4.95; 4.19); one person at 640 x 480 takes 85 ms on 2 cores (67; 67).
            See ``landmarks.hands`` for every combination.
        face_side: head crop side as a multiple of the head extent.
        min_body_score: people whose pose-present probability is below this are dropped.
        part_detect: also find faces and hands on the whole image (``finder.PartFinder``):
            the face mesh then runs on the face detector's ROI where a body's nose claims a face,
            palm-found hands fill or improve the bodies' hands, and a face or hand no body
            claims is output as a person of its own (body score 0).
        part_tiles: the part detectors also run on overlapping tiles: True, False or ``"auto"``
            (images whose longer side is at least 1000 px).
        face_search: with ``part_detect``, a confident face that no kept person's nose lies in starts
            a body search around it (``face_search``), kept only if that body's nose is in the face.
        hand_search: with ``part_detect``, the palm detector also searches the region around each
            wrist that has no confident hand yet, and a wrist whose foreshortened forearm made its
            crop too tight gets a wider one (``hand_assembly.HandAssembler``, ``foreshortened``).
    """

    accepts_carry = True  # __call__ takes ``carry`` (video carry-over, ``assemble.carry``)

    def __init__(
        self,
        detector: Callable | None = None,
        face: str | None = "mesh",
        hand_zoom: bool = True,
        num_threads: int | None = None,
        body_box_scale: float = 1.4,
        body_refine: bool = True,
        hand_side: float = 1.3,
        hand_shift: float = 0.35,
        hand_recrop: bool = False,
        hand_model: str = "both",
        hand_mirror: bool = True,
        face_side: float = 2.2,
        min_body_score: float = 0.1,
        body_model: str = "heavy",
        part_detect: bool = True,
        part_tiles: bool | str = "auto",
        face_search: bool = True,
        hand_search: bool = True,
    ) -> None:
        if face not in ("mesh", "dlib", None):
            raise ValueError(f"face must be 'mesh', 'dlib' or None, got {face!r}")
        if body_model not in ("heavy", "full"):
            raise ValueError(f"body_model must be 'heavy' or 'full', got {body_model!r}")
        if hand_model not in HAND_MODELS:
            raise ValueError(f"hand_model must be one of {sorted(HAND_MODELS)}, got {hand_model!r}")
        num_threads = num_threads or default_num_threads()
        self.num_threads = num_threads
        self._detector = detector
        refine_model = heavy_pose_model(num_threads) if body_model == "heavy" and body_refine else None
        self.body = BodyExpert(num_threads=num_threads, box_scale=body_box_scale, refine=body_refine,
                               refine_model=refine_model)
        self.hands = HandExpert(num_threads, HAND_MODELS[hand_model], hand_mirror, hand_recrop) if hand_zoom else None
        self.face = None
        if face == "mesh":
            self.face = FaceExpert(num_threads=num_threads)
        elif face == "dlib":
            from wholebody.experts.landmarks.dlib_face import DlibFaceExpert

            self.face = DlibFaceExpert()
        self.hand_side = hand_side
        self.hand_shift = hand_shift
        self.face_side = face_side
        self.min_body_score = min_body_score
        self.parts = None
        self.face_search = face_search
        if part_detect:
            from wholebody.experts.assemble.finder import PartFinder

            self.parts = PartFinder(self.hands, faces=face is not None, tiles=part_tiles, num_threads=num_threads)
        self.hand_assembler = HandAssembler.for_parts(self.parts, hand_search)
        self.runs = ImageRuns()  # a body crop asked for twice on one image runs once (runtime.reuse)

    @property
    def detector(self) -> Callable:
        """The person detector, created on first use."""
        if self._detector is None:
            from wholebody.experts.detect.people import default_people_detector

            self._detector = default_people_detector(self.num_threads)
        return self._detector

    def __call__(self, image: np.ndarray, person_boxes: np.ndarray | None = None,
                 person_scores: np.ndarray | None = None, person_keypoints: np.ndarray | None = None,
                 carry: tuple[np.ndarray, np.ndarray] | None = None) -> list[Person]:
        """Whole-body people in an (H, W, 3) uint8 RGB image.

        Args:
            image: RGB uint8 array, H x W x 3.
            person_boxes: optional (N, 4) ``[x, y, w, h]`` boxes in original pixels; skips detection.
            person_scores: optional (N,) box scores for ``person_boxes`` (default 1).
            person_keypoints: optional (N, 17, 3) COCO body points (x, y, score) for the boxes,
                fused with the body expert's (the detector's keypoints are used when detecting).
            carry: optional video carry-over ``(boxes (M, 4) [x, y, w, h], scores (M,)[, body angles
                (M,) radians, track ids (M,)])`` of the previous frame's people (``carry_over.CarryOver``):
                a box no detection covers is added, its crop turned upright (``carry.carried_body``),
                and kept while the body expert's pose presence is >= ``CARRY_PRESENCE``; the person
                found keeps the track id as ``track_id`` (a hint for ``track.PersonTracker``).
        Returns:
            one ``Person`` per box whose body the body expert finds, by descending score.
        """
        image = _check_image(image)
        self.runs.start(image)
        if too_small_for_people(image):
            return []  # the 1-pixel rule (wholebody.types.MIN_IMAGE_SIDE), as in predict
        if person_boxes is None:
            detections = as_detections(self.detector(image))
            boxes, box_scores, priors = detections.boxes, detections.scores, detections.keypoints
        else:
            boxes = np.asarray(person_boxes, dtype=np.float64).reshape(-1, 4)
            box_scores = np.ones(len(boxes)) if person_scores is None else np.asarray(person_scores, dtype=np.float64)
            priors = person_keypoints
        if priors is not None and np.shape(priors)[1:] != (17, 3):
            priors = None  # not COCO-17 with scores (e.g. the BlazePose detector's 4 points)
        boxes, box_scores, priors, carried, angles, hints = add_carried(boxes, box_scores, priors, carry)
        found = self.parts.detect(image) if self.parts is not None else None
        people, bodies, kept_scores, kept_priors = [], [], [], []
        for index, (box, score) in enumerate(zip(boxes, box_scores)):
            if box[2] <= 1 or box[3] <= 1:
                continue
            prior = None if priors is None else np.asarray(priors[index], dtype=np.float64)
            person, body = (self._carried_person(image, box, angles[index], hints[index], prior, people)
                            if carried[index] else self._body_person(image, box, prior))
            if person is None and not carried[index]:  # a neighbour may dominate the crop: try the head end
                person, body = self._body_person(image, upper_box(box), prior, box)
            if person is None or (carried[index] and (body.score < CARRY_PRESENCE or lands_on_found(person, people))):
                continue
            people.append(person)
            bodies.append(body)
            kept_scores.append(float(score))
            kept_priors.append(prior)
        from_prior = resolve_duplicates(image, people, bodies, kept_scores, kept_priors,
                                        lambda img, box: self._body_person(img, box, None))
        if found is not None and person_boxes is None and self.face_search:  # people known by the face alone
            search_from_faces(image, found.faces, people, bodies, kept_scores, kept_priors, from_prior,
                              lambda img, box: self._body_person(img, box, None))
        heads = self._heads(people, bodies, kept_priors, from_prior)
        if found is not None:  # limb points on faces or on a neighbour's forearm are not that person's
            fix_limbs(people, kept_priors, found.faces)
        face_crops = self.parts.face_crops(people, found) if found is not None and face_is_mesh(self.face) else {}
        self.hand_assembler(image, people, self._run_hands(image, people), found)
        faces = self._run_faces(image, people, bodies, heads, face_crops)
        attach_faces(people, faces)
        if found is not None:
            self.parts.confirm_faces(people, faces, face_crops)
        finish_scores(people, kept_scores)
        if found is not None:
            people += self.parts.leftover_people(image, people, found, self.face)
        return sorted(people, key=lambda p: -p.score)

    def _carried_person(self, image: np.ndarray, box: np.ndarray, angle: float, track_id: int,
                        prior: np.ndarray | None, found: list[Person]):
        """``_body_person`` for a video carry-over box, the crop turned upright (``carry.carried_body``)."""
        return carried_body(lambda crop_box, turn: self._body_person(image, crop_box, prior, angle=turn), box, angle,
                            image.shape, track_id, found)

    def _body_person(self, image: np.ndarray, box: np.ndarray, prior: np.ndarray | None,
                     person_box: np.ndarray | None = None, angle: float = 0.0):
        """(Person with body and feet, BodyLandmarks) for one box (crop turned by ``angle`` radians), unseen points'
        scores capped; (None, body) below ``min_body_score``; ``person_box`` (default ``box``) becomes the person's box."""
        body = self.runs.get(self.body, image, box, angle)
        if body.score < self.min_body_score:
            return None, body
        person = body_person(body, box if person_box is None else person_box, prior)
        cap_unseen_scores(person.keypoints, image.shape)
        person.part_scores.update(body_part_scores(person.keypoints, body.score))
        return person, body

    def _run_hands(self, image: np.ndarray, people: list[Person]) -> list[tuple[int, str, object]]:
        """(person index, side, HandLandmarks) for a zoomed crop at every wrist."""
        if self.hands is None:
            return []
        out = []
        for i, person in enumerate(people):
            for side in ("left", "right"):
                wrist, elbow = person.keypoints[WRISTS[side], :2], person.keypoints[ELBOWS[side], :2]
                crop = wrist_crop(wrist, elbow, self.hand_side, self.hand_shift)
                out.append((i, side, self.hands(image, crop)))
        return out

    @staticmethod
    def _heads(people: list[Person], bodies: list[BodyLandmarks], priors: list,
               forced: list[bool] | None = None) -> list[np.ndarray]:
        """Per person, the (K, 2) head points to crop the face from: BlazePose's 11, or the detector's
        usable ones of its 5 (COCO nose, eyes, ears) where BlazePose put the head on another
        person's (``claimed_heads``).  Such a person's upper body (head, shoulders, elbows, wrists:
        BlazePose followed the other person there too) becomes the detector's; a non-finite
        detector point keeps the body expert's, except on the head (the centre of the others,
        score 0).  The body's 3D stays BlazePose's (MoveNet has none), so for such a person it may
        not match the 2D upper body.  Measured on the fixture skier: whole-body OKS 0.20 -> 0.51
        with the head, 0.59 with the upper body (left hand 0 -> 0.41).  ``forced``: people whose
        body already is the detector's (``duplicates.resolve_duplicates``) take its head too."""
        usable = all(prior is not None for prior in priors)
        claimed = claimed_heads([p.keypoints[:17] for p in people], np.array(priors) if usable else None)
        claimed = [c or bool(forced and forced[i]) for i, c in enumerate(claimed)]
        heads = []
        for person, body, prior, taken in zip(people, bodies, priors, claimed):
            if not taken:
                heads.append(body.points[HEAD_POINTS])
                continue
            log.debug("body head at %s lies on another person's head; using the detector's upper body",
                      np.round(body.points[NOSE]))
            upper = person.keypoints[COCO_UPPER_BODY]  # a view: writes go to the person
            finite = np.isfinite(prior[COCO_UPPER_BODY]).all(axis=1)
            upper[finite] = prior[COCO_UPPER_BODY][finite]
            head_finite = finite[COCO_HEAD]  # claimed_heads needs two confident finite ones
            centre = prior[COCO_HEAD][head_finite, :2].mean(axis=0)
            upper[COCO_HEAD][~head_finite] = [centre[0], centre[1], 0.0]
            heads.append(prior[COCO_HEAD][head_finite, :2])
        return heads

    def _run_faces(self, image: np.ndarray, people: list[Person], bodies: list[BodyLandmarks],
                   heads: list[np.ndarray], face_crops: dict | None = None) -> list[tuple[int, object]]:
        """(person index, face result) for a head crop around each person's head points, or the
        face detector's mesh ROI where ``face_crops`` has one for that person."""
        if self.face is None:
            return []
        out = []
        noses = np.array([person.keypoints[COCO_NOSE, :2] for person in people])
        for i, (body, head) in enumerate(zip(bodies, heads)):
            shoulders = float(np.hypot(*(body.points[LEFT_SHOULDER] - body.points[RIGHT_SHOULDER])))
            if len(head) == len(HEAD_POINTS):
                eye_axis = head[LEFT_EYE] - head[RIGHT_EYE]
            else:  # the detector's head, COCO order; upright when a point was dropped as non-finite
                eye_axis = head[COCO_LEFT_EYE] - head[COCO_RIGHT_EYE] if len(head) == 5 else None
            crop = head_crop(head, np.ones(len(head), bool), shoulders, eye_axis, self.face_side)
            others = np.delete(noses, i, axis=0)
            face = None
            if i in (face_crops or {}):  # the face detector's ROI first; the head crop if the mesh fails there
                face = self.face(image, face_crops[i], own_head=noses[i], other_heads=others)
            if crop is not None and (face is None or face.presence < 0.5):
                again = self.face(image, crop, own_head=noses[i], other_heads=others)
                face = again if face is None or again.presence > face.presence else face
            if face is not None:
                out.append((i, face))
        return out


def face_is_mesh(face) -> bool:
    """Whether the face expert is the face mesh (which takes the face detector's ROI)."""
    return isinstance(face, FaceExpert)


def heavy_pose_model(num_threads: int = 1):
    """BlazePose heavy (``landmarks.heavy_pose.HeavyPoseModel``), or None with a warning when it cannot run here."""
    try:
        from wholebody.experts.landmarks.heavy_pose import HeavyPoseModel

        return HeavyPoseModel(num_threads=num_threads)
    except (ImportError, FileNotFoundError) as err:
        log.warning("BlazePose heavy unavailable (%s); the body expert uses the full model only, "
                    "which is less accurate", err)
        return None


def _check_image(image: np.ndarray) -> np.ndarray:
    """Validate an RGB uint8 H x W x 3 image (a clear error otherwise)."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {image.dtype}")
    return np.ascontiguousarray(image)
