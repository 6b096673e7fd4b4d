"""Faces and hands found on the whole image, their landmarks, and their joining with the bodies.

``PartFinder`` is what ``WholeBodyEstimator`` calls around its body pipeline:

1. ``detect(image)``: the face detector (both BlazeFace models) and the palm detector on the
   whole image; every palm gets the hand landmark models on MediaPipe's rotated palm ROI
   (``detect.palms.hand_roi``) and again on the ROI of those landmarks (MediaPipe's tracking
   re-crop); hands whose presence stays below 0.5 are dropped, and hands
   whose landmark boxes overlap (two palms on one hand) are kept once.
2. ``face_crops(people, parts)``: per person the face rules (``rules.face_matches``) give a
   detected face, that face's mesh ROI, used instead of the head crop built from body points;
   ``confirm_faces`` then keeps such a face for its person where the stricter DOPE rule of
   ``person.attach_faces`` (nose inside the mesh box) would leave it unconfirmed.
3. the palm-found hands go to bodies with the wrist-crop ones in ``hand_assembly.HandAssembler``,
   which leaves in ``FoundParts.hands`` those no body took.
4. ``leftover_people(image, people, parts, face_expert)``: each face and hand no body claimed
   (and no body's part duplicates) as a person of its own (``rules.part_person``).

All coordinates are original pixels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from wholebody.experts.assemble.association import unique_parts
from wholebody.experts.assemble.person import PART_FOUND, _fill_face
from wholebody.experts.assemble.rules import duplicates_part, face_matches, mesh_fits_detection, part_person
from wholebody.experts.crops import box_of_points
from wholebody.experts.detect.faces import DetectedFace, WholeImageFaceDetector
from wholebody.experts.detect.palms import PalmDetector
from wholebody.experts.landmarks.hands import points_crop
from wholebody.types import Person

log = logging.getLogger(__name__)
REFINE_SIDE = 1.6  # second hand pass: crop side in landmark extents (see PartFinder._landmarks)


@dataclass
class FoundParts:
    """What the whole-image detectors found in one image (original pixels).

    Attributes:
        faces: face detections, best first.
        hands: (palm score, HandLandmarks) per palm-found hand with presence >= 0.5.
        palm_boxes: ``[x, y, w, h]`` of every palm detection, whatever its hand's presence (a
            wrist search that finds one of these again need not run the hand models on it).
        used_faces, used_hands: indices already given to a body (filled by the estimator's steps).
    """

    faces: list[DetectedFace] = field(default_factory=list)
    hands: list[tuple[float, object]] = field(default_factory=list)
    palm_boxes: list[np.ndarray] = field(default_factory=list)
    used_faces: set[int] = field(default_factory=set)
    used_hands: set[int] = field(default_factory=set)


class PartFinder:
    """Whole-image face and palm detection plus their assembly (module docstring).

    Args:
        hand_expert: ``landmarks.hands.HandExpert`` run on each palm ROI (None: no palm detection).
        faces: run the face detector.
        tiles: also run both detectors on overlapping tiles: True, False, or ``"auto"`` (only
            on images whose longer side is at least ``TILE_MIN_SIDE`` pixels).
        palm_model: ``"full"`` or ``"lite"``.
        num_threads: interpreter threads.
    """

    TILE_MIN_SIDE = 1000

    def __init__(self, hand_expert=None, faces: bool = True, tiles: bool | str = "auto", palm_model: str = "full",
                 num_threads: int = 1) -> None:
        if tiles not in (True, False, "auto"):
            raise ValueError(f"tiles must be True, False or 'auto', got {tiles!r}")
        self.hand_expert = hand_expert
        self.num_threads = num_threads
        self.tiles = tiles
        self.face_detector = WholeImageFaceDetector(num_threads=num_threads) if faces else None
        self.palm_detector = PalmDetector(palm_model, num_threads=num_threads) if hand_expert is not None else None

    def use_tiles(self, image: np.ndarray) -> bool:
        """Whether the detectors also search tiles of this image (see ``tiles``)."""
        return self.tiles is True or (self.tiles == "auto" and max(image.shape[:2]) >= self.TILE_MIN_SIDE)

    def detect(self, image: np.ndarray) -> FoundParts:
        """Faces and palm-found hands of an (H, W, 3) uint8 RGB image."""
        tiles = self.use_tiles(image)
        found = FoundParts()
        if self.face_detector is not None:
            found.faces = self.face_detector(image, tiles)
        if self.palm_detector is not None:
            palms = self.palm_detector(image, tiles)
            found.palm_boxes = [palm.box for palm in palms]
            hands = [(palm.score, self.hand_landmarks(image, palm.crop)) for palm in palms]
            hands = [h for h in hands if h[1].presence >= PART_FOUND]
            keep = unique_parts([h.box(0.0) for _, h in hands], [h.presence for _, h in hands])
            found.hands = [hands[i] for i in keep]
        return found

    def hand_landmarks(self, image: np.ndarray, crop):
        """Hand landmarks on the palm ROI, then once more on the ROI of those landmarks.

        The second pass is MediaPipe's tracking re-crop (``landmarks.hands.points_crop``, side 1.6 x the
        landmarks' extent, fingers up): the palm ROI can cut off a stretched finger.  Measured on
        the 3 RHD fixture hands (``benchmarks/part_detect.py``): mean error 4.37 -> 3.60 px (side
        1.6; 1.8: 3.62, 2.0: 3.83), better on each hand.  Kept only if the hand is still present.
        """
        hand = self.hand_expert(image, crop)
        if hand.presence < PART_FOUND:
            return hand
        again = self.hand_expert(image, points_crop(hand.points, REFINE_SIDE))
        return again if again.presence >= PART_FOUND else hand

    def face_crops(self, people: list[Person], found: FoundParts) -> dict[int, object]:
        """{person index: face-mesh ROI of the detected face that person's nose claims}."""
        pairs = face_matches(people, [f.box for f in found.faces])
        found.used_faces |= set(pairs.values())
        return {person: found.faces[face].crop for person, face in pairs.items()}

    @staticmethod
    def confirm_faces(people: list[Person], faces: list[tuple[int, object]], face_crops: dict[int, object]) -> None:
        """Keep a face the face rules gave a person (``face_crops``) even where the body's nose lies
        outside the mesh (DOPE's rule in ``person.attach_faces`` then leaves it unconfirmed): the
        face was matched to this person alone, on the detector's evidence.  Needs presence >= 0.5
        and no other person holding an overlapping face."""
        for index, face in faces:
            person = people[index]
            if index not in face_crops or person.part_boxes.get("face") is not None or face.presence < PART_FOUND:
                continue
            if duplicates_part(face.box(), [p for p in people if p is not person], "face"):
                continue
            _fill_face(person, face, found=True)

    def leftover_people(self, image: np.ndarray, people: list[Person], found: FoundParts, face_expert) -> list[Person]:
        """See ``leftover_people``."""
        return leftover_people(image, people, found, face_expert)


def leftover_people(image: np.ndarray, people: list[Person], found: FoundParts, face_expert) -> list[Person]:
    """A person of its own for every found face and hand that no body holds (module docstring).

    ``face_expert`` is the face mesh (``landmarks.face.FaceExpert``, called with an image and a crop); any
    other face expert (dlib) or None leaves unclaimed faces out.
    """
    extra: list[Person] = []
    for index, (palm_score, hand) in enumerate(found.hands):
        part = ("right" if hand.is_right else "left") + "hand"
        box = box_of_points(hand.points)
        if index in found.used_hands or duplicates_part(box, people + extra, part):
            continue
        extra.append(part_person(part, hand.points, hand.presence, palm_score, box, hand.world - hand.world[0]))
    if face_expert is not None and hasattr(face_expert, "run_crop"):
        for index, face in enumerate(found.faces):
            if index in found.used_faces:
                continue
            mesh = face_expert(image, face.crop)
            box = mesh.box()
            if (mesh.presence < PART_FOUND or not mesh_fits_detection(box, face.box)
                    or duplicates_part(box, people + extra, "face")):
                continue
            extra.append(part_person("face", mesh.ibug68(), mesh.presence, face.score, box, mesh.metric_68()))
    if extra:
        log.debug("%d part(s) with no body", len(extra))
    return extra
