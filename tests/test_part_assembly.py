"""Joining whole-image faces and palm-found hands to bodies, and people made of one part alone."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wholebody.data.results import person_to_result
from wholebody.experts.assemble.finder import FoundParts, leftover_people
from wholebody.experts.assemble.rules import face_matches, part_person
from wholebody.experts.crops import SquareCrop
from wholebody.experts.detect.faces import DetectedFace
from wholebody.experts.landmarks.face import FaceLandmarks
from wholebody.schema import PART_SLICES
from wholebody.types import Person

CROP = SquareCrop((0.0, 0.0), 100.0, 0.0, 224)
LEFT_WRIST, RIGHT_WRIST, NOSE = 9, 10, 0


def body(left_wrist, right_wrist, nose=(0.0, 0.0), hands: dict | None = None) -> Person:
    """A person with only wrists and nose set; ``hands`` side -> (box, presence) already found."""
    keypoints = np.zeros((133, 3))
    keypoints[LEFT_WRIST] = [*left_wrist, 0.9]
    keypoints[RIGHT_WRIST] = [*right_wrist, 0.9]
    keypoints[NOSE] = [*nose, 0.9]
    person = Person(keypoints=keypoints, score=0.9,
                    part_scores={"body": 0.9, "foot": 0.5, "face": 0.0, "lefthand": 0.0, "righthand": 0.0},
                    bbox=np.array([0.0, 0.0, 10.0, 10.0]),
                    part_boxes={"face": None, "lefthand": None, "righthand": None},
                    keypoints_3d={"body": None, "face": None, "lefthand": None, "righthand": None})
    for side, (box, presence) in (hands or {}).items():
        person.part_boxes[side + "hand"] = np.asarray(box, dtype=float)
        person.part_scores[side + "hand"] = presence
    return person


def _face(centre, side=40.0) -> DetectedFace:
    box = np.array([centre[0] - side / 2, centre[1] - side / 2, side, side])
    return DetectedFace(0.9, box, np.zeros((6, 2)), SquareCrop(tuple(centre), 1.5 * side, 0.0, 192))


class MeshOnCrop:
    """A face expert stand-in: a 468-point mesh filling the middle of the crop it is given."""

    def run_crop(self, image, crop):  # marks it as the mesh expert for ``leftover_people``
        return self(image, crop)

    def __call__(self, image, crop, **_):
        rng = np.random.default_rng(0)
        mesh = np.concatenate([crop.to_image(rng.uniform(48, 144, (468, 2))), np.zeros((468, 1))], axis=1)
        return FaceLandmarks(mesh=mesh, presence=0.9, crop=crop)


def test_faces_go_to_the_nose_inside_them_and_the_rest_are_output_alone():
    people = [body((0.0, 0.0), (0.0, 0.0), nose=(100.0, 100.0)), body((0.0, 0.0), (0.0, 0.0), nose=(400.0, 100.0))]
    faces = [_face((102.0, 98.0)), _face((700.0, 300.0))]
    assert face_matches(people, [f.box for f in faces]) == {0: 0}
    # A nose that slid below its face (on the chin) still gets the nearest free face within a
    # face size; a face far from every nose goes to nobody.
    slid = [body((0.0, 0.0), (0.0, 0.0), nose=(100.0, 135.0)), body((0.0, 0.0), (0.0, 0.0), nose=(400.0, 100.0))]
    assert face_matches(slid, [f.box for f in faces]) == {0: 0}
    assert face_matches(slid[:1], [faces[1].box]) == {}
    found = FoundParts(faces=faces, used_faces={0})
    extra = leftover_people(np.zeros((500, 800, 3), np.uint8), people, found, MeshOnCrop())
    assert len(extra) == 1
    alone = extra[0]
    assert alone.part_boxes["face"] is not None and alone.part_boxes["lefthand"] is None
    assert alone.keypoints[PART_SLICES["face"], :2].mean(axis=0) == pytest.approx([700.0, 300.0], abs=5.0)
    assert alone.keypoints[:23].sum() == 0 and alone.score == 0.0
    assert 0 < alone.part_scores["wholebody"] <= 0.1  # ranks below whole people
    # The dlib expert (no mesh ROI) or none: unclaimed faces are not output.
    assert leftover_people(None, people, FoundParts(faces=faces, used_faces={0}), None) == []


def _hand_only_person() -> Person:
    points = np.stack([np.linspace(300, 340, 21), np.linspace(200, 260, 21)], axis=1)
    return part_person("righthand", points, 0.93, 0.8, np.array([300.0, 200.0, 40.0, 60.0]), np.zeros((21, 3)))


def test_a_parts_only_person_is_written_and_evaluated(fixtures_dir, tmp_path):
    from wholebody.eval.cocoeval import evaluate_files

    record = person_to_result(_hand_only_person(), 785, file_name="x.jpg")
    assert record["righthand_valid"] is True and record["face_valid"] is False and record["lefthand_valid"] is False
    assert record["keypoints"] == [0.0] * 51 and record["score"] == 0.0
    assert max(record["righthand_kpts"][2::3]) == pytest.approx(0.93)
    assert record["righthand_score"] == pytest.approx(0.93) and 0 < record["wholebody_score"] <= 0.1
    # The evaluator takes it (zero body extent, hands only) next to nothing else: no crash, finite numbers.
    path = tmp_path / "results.json"
    path.write_text(json.dumps([record]))
    stats = evaluate_files(str(fixtures_dir / "coco_wholebody" / "test_coco_wholebody.json"), str(path))
    assert "right hand" in stats.table()
    values = [v for part in stats.stats.values() for v in part.values()]
    assert values and all(np.isfinite(v) for v in values)


def test_a_parts_only_person_is_drawn():
    from wholebody.viz.overlay import draw_people

    image = np.zeros((400, 500, 3), np.uint8)
    drawn = draw_people(image, [_hand_only_person()], score_thr=0.3)
    changed = np.argwhere(drawn.any(axis=2))
    assert len(changed)
    lo, hi = changed.min(axis=0), changed.max(axis=0)  # (row, col): everything drawn is at the hand
    assert 180 <= lo[0] and hi[0] <= 280 and 280 <= lo[1] and hi[1] <= 360


def test_a_face_matched_by_the_detector_stays_with_its_person_though_the_nose_is_off():
    from wholebody.experts.assemble.finder import PartFinder

    people = [body((0.0, 0.0), (0.0, 0.0), nose=(100.0, 135.0))]  # nose below the face
    face = MeshOnCrop()(None, SquareCrop((100.0, 100.0), 60.0, 0.0, 192))
    PartFinder.confirm_faces(people, [(0, face)], face_crops={})
    assert people[0].part_boxes["face"] is None  # not the detector's match: the DOPE rule stands
    PartFinder.confirm_faces(people, [(0, face)], face_crops={0: face.crop})
    assert people[0].part_boxes["face"] == pytest.approx(face.box())
    assert people[0].part_scores["face"] == pytest.approx(0.9)
