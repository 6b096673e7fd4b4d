"""Hands to (person, side): one-to-one, side veto, forearm reach, hands alone, the wrist palm search."""

from __future__ import annotations

import numpy as np
import pytest

from wholebody.experts.assemble.association import body_scale, box_iou, greedy_pairs, hand_pair_cost
from wholebody.experts.assemble.finder import FoundParts, leftover_people
from wholebody.experts.assemble.hand_assembly import HandAssembler, assign_hands
from wholebody.experts.assemble.limbs import NOT_MINE_SCORE
from wholebody.experts.crops import SquareCrop
from wholebody.experts.landmarks.hands import HandLandmarks
from wholebody.types import Person

CROP = SquareCrop((0.0, 0.0), 100.0, 0.0, 224)
SHOULDERS, ELBOWS, WRISTS = (5, 6), (7, 8), (9, 10)


def person(left_wrist, right_wrist, left_elbow=None, right_elbow=None, wrist_score=0.9) -> Person:
    """A person whose shoulders lie 120 px apart, 160 px above the wrists' midpoint, and whose forearms
    (80 px) hang down unless elbows are given."""
    keypoints = np.zeros((133, 3))
    left_wrist, right_wrist = np.asarray(left_wrist, float), np.asarray(right_wrist, float)
    middle = (left_wrist + right_wrist) / 2.0 - (0.0, 160.0)
    keypoints[SHOULDERS[0]] = [*(middle - (60.0, 0.0)), 0.9]
    keypoints[SHOULDERS[1]] = [*(middle + (60.0, 0.0)), 0.9]
    for k, wrist, elbow in ((0, left_wrist, left_elbow), (1, right_wrist, right_elbow)):
        keypoints[ELBOWS[k]] = [*(wrist - (0.0, 80.0) if elbow is None else elbow), 0.9]
        keypoints[WRISTS[k]] = [*wrist, wrist_score]
    return Person(keypoints=keypoints, score=0.9,
                  part_scores={"body": 0.9, "foot": 0.5, "face": 0.0, "lefthand": 0.0, "righthand": 0.0},
                  bbox=np.array([0.0, 0.0, 10.0, 10.0]), part_boxes={"face": None, "lefthand": None, "righthand": None},
                  keypoints_3d={"body": None, "face": None, "lefthand": None, "righthand": None})


def hand(wrist, right: bool, presence=0.9, size=40.0, direction=(0.0, 1.0)) -> HandLandmarks:
    """A hand whose wrist is at ``wrist`` and whose fingers reach ``size`` px along ``direction``."""
    along = np.asarray(direction, float) / np.hypot(*direction)
    across = np.array([-along[1], along[0]])
    t = np.linspace(0.0, 1.0, 21)[:, None]
    points = np.asarray(wrist, float) + size * (t * along + (t - 0.5) * 0.5 * across)
    points[0] = wrist
    return HandLandmarks(points=points, presence=presence, right=0.95 if right else 0.05,
                         world=np.zeros((21, 3)), crop=CROP)


def test_body_scale_is_the_longest_arm_segment_in_pixels():
    p = person((100.0, 300.0), (300.0, 300.0))
    assert body_scale(p.keypoints) == pytest.approx(120.0)  # shoulder width; upper arms 89, forearms 80
    p.keypoints[SHOULDERS[1], 2] = 0.0  # a shoulder not seen: its segments do not count
    assert body_scale(p.keypoints) == pytest.approx(np.hypot(40.0, 80.0))


def test_one_wrist_takes_one_hand_and_each_hand_goes_to_one_wrist():
    people = [person((100.0, 300.0), (300.0, 300.0))]
    near, nearer = hand((104.0, 300.0), right=False), hand((100.0, 302.0), right=False, presence=0.6, size=38.0,
                                                           direction=(1.0, 3.0))
    # Two different hands (their boxes barely overlap) near one left wrist: the nearer is taken, once.
    assert assign_hands(people, [near, nearer]) == {(0, 0): 1}
    # Two people's left wrists near one hand: one of them only.
    two = [person((100.0, 300.0), (300.0, 300.0)), person((110.0, 300.0), (500.0, 300.0))]
    assert assign_hands(two, [hand((108.0, 300.0), right=False)]) == {(1, 0): 0}
    assert greedy_pairs(np.array([[1.0, 2.0], [0.5, np.inf]])) == [(1, 0), (0, 1)]


def test_the_model_s_handedness_vetoes_the_other_side():
    people = [person((100.0, 300.0), (600.0, 300.0))]
    right_hand_at_left_wrist = hand((102.0, 301.0), right=True)
    assert assign_hands(people, [right_hand_at_left_wrist]) == {}  # the right wrist is out of reach
    assert assign_hands(people, [hand((102.0, 301.0), right=False)]) == {(0, 0): 0}
    # Two people's wrists meet where a left hand is (zidane.jpg): the left wrist takes it, even
    # when the other person's right wrist is nearer.
    people = [person((500.0, 300.0), (300.0, 300.0)), person((330.0, 300.0), (700.0, 300.0))]
    assert assign_hands(people, [hand((305.0, 300.0), right=False)]) == {(1, 0): 0}


def test_a_hand_reaches_forward_from_the_wrist_not_back_past_the_elbow():
    wrist, elbow = np.array([300.0, 300.0]), np.array([300.0, 220.0])  # forearm pointing down
    ahead = hand(wrist + (0.0, 5.0), right=False).points
    behind = hand(wrist - (0.0, 120.0), right=False, direction=(0.0, -1.0)).points  # above the elbow
    beside = hand(wrist - (0.0, 40.0), right=False).points  # mid-forearm: possible, dearer
    scale = 200.0
    assert np.isfinite(hand_pair_cost(ahead, 0.05, 0, wrist, elbow, scale))
    assert hand_pair_cost(behind, 0.05, 0, wrist, elbow, scale) == np.inf
    assert hand_pair_cost(ahead, 0.05, 0, wrist, elbow, scale) < hand_pair_cost(beside, 0.05, 0, wrist, elbow, scale)
    far = hand(wrist + (0.0, 300.0), right=False).points  # farther than a forearm plus a hand
    assert hand_pair_cost(far, 0.05, 0, wrist, elbow, scale) == np.inf


def test_a_hand_no_wrist_can_take_is_output_alone_and_a_taken_one_is_not():
    people = [person((100.0, 300.0), (300.0, 300.0))]
    mine, stray = hand((300.0, 305.0), right=True), hand((900.0, 50.0), right=True)
    found = FoundParts(hands=[(0.8, mine), (0.7, stray)])
    HandAssembler()(np.zeros((600, 1000, 3), np.uint8), people, [], found)
    assert people[0].part_boxes["righthand"] is not None and people[0].part_boxes["lefthand"] is None
    alone = leftover_people(None, people, found, None)
    assert len(alone) == 1 and alone[0].part_boxes["righthand"] is not None
    assert alone[0].keypoints[112, :2] == pytest.approx(stray.points[0])  # right hand block starts at 112


def test_a_wrist_crop_hand_another_person_took_is_not_copied_to_its_own_slot():
    people = [person((100.0, 300.0), (300.0, 300.0)), person((160.0, 300.0), (600.0, 300.0))]
    seen_by_both = hand((162.0, 302.0), right=False)
    crop_hands = [(0, "left", hand((100.0, 300.0), right=False, presence=0.2)), (0, "right", seen_by_both)]
    HandAssembler()(np.zeros((600, 800, 3), np.uint8), people, crop_hands, None)
    # Person 0's right-wrist crop saw person 1's left hand: it is person 1's, and person 0's
    # right hand stays empty; person 0's weak left-crop hand stays as its own best guess.
    assert people[1].part_boxes["lefthand"] is not None and people[0].part_scores["righthand"] == 0.0
    assert people[0].part_scores["lefthand"] == pytest.approx(0.2) and people[0].part_boxes["lefthand"] is None


def test_a_wrist_the_limb_rules_demoted_loses_the_hand_to_the_arm_s_owner():
    """faceapi_sample4: a neighbour's wrist lay on another woman's hand (``limbs`` demoted it to
    ``NOT_MINE_SCORE``); the hand there goes to its owner even where the neighbour's wrist is nearer
    (``hand_pair_cost`` weighs the wrist's score)."""
    owner = person((100.0, 300.0), (220.0, 300.0))
    borrower = person((399.0, 300.0), (99.0, 300.0), right_elbow=(60.0, 240.0))
    borrower.keypoints[WRISTS[1], 2] = NOT_MINE_SCORE
    the_hand = hand((99.5, 300.0), right=False)
    the_hand.right = 0.5  # side unsure: the owner's left or the borrower's right
    taken = assign_hands([owner, borrower], [the_hand])
    assert taken == {(0, 0): 0}


def test_a_palm_hand_on_a_hand_a_wrist_crop_found_is_one_hand_the_better_view_kept():
    people = [person((100.0, 300.0), (300.0, 300.0))]
    crop_view = hand((101.0, 301.0), right=False, presence=0.6)
    for palm_presence, kept in ((0.95, 0.95), (0.55, 0.6)):
        palm_view = hand((100.0, 300.0), right=False, presence=palm_presence, size=42.0)
        found = FoundParts(hands=[(0.9, palm_view)])
        HandAssembler()(np.zeros((600, 800, 3), np.uint8), people, [(0, "left", crop_view)], found)
        assert people[0].part_scores["lefthand"] == pytest.approx(kept)
        assert people[0].part_boxes["righthand"] is None
        assert found.hands == [] and leftover_people(None, people, found, None) == []  # not output a second time


def _rgb(path):
    import cv2

    return np.ascontiguousarray(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))


def test_region_palm_search_maps_the_palm_back_around_the_real_hand(fixtures_dir):
    pytest.importorskip("ai_edge_litert", reason="the palm detector runs with ai-edge-litert")
    from wholebody.data.adapters.rhd import load_rhd
    from wholebody.experts.detect.palms import PalmDetector, RegionPalmDetector

    search = RegionPalmDetector(PalmDetector("full"))
    for sample in load_rhd(fixtures_dir / "rhd" / "test_rhd.json"):
        truth = sample.instances[0].pose2d[sample.instances[0].visible2d]
        lo, hi = truth.min(axis=0), truth.max(axis=0)
        size = float((hi - lo).max())
        # A region off-centre from the hand (as a body wrist is), partly past the image border.
        centre = (lo + hi) / 2.0 + np.array([0.4, -0.3]) * size
        palms = search(_rgb(sample.image_path), centre, 3.0 * size)
        assert palms, f"no palm in the region of {sample.image_path.name}"
        inside = [p for p in palms if np.all(lo - 0.1 * size <= p.box[:2] + p.box[2:] / 2)
                  and np.all(p.box[:2] + p.box[2:] / 2 <= hi + 0.1 * size)]
        assert inside, f"{sample.image_path.name}: palms at {[np.round(p.box) for p in palms]}, hand {lo}-{hi}"
        assert 0.1 * size < inside[0].box[2:].max() < 1.5 * size
        assert np.linalg.norm(inside[0].keypoints[0] - sample.instances[0].pose2d[0]) < 0.5 * size
    assert search(np.zeros((50, 50, 3), np.uint8), np.array([np.nan, 3.0]), 40.0) == []  # bad region: nothing


def test_zidane_pointing_left_hand_is_on_the_pointing_man_as_his_left(fixtures_dir):
    pytest.importorskip("ai_edge_litert", reason="the part experts run with ai-edge-litert")
    photo = fixtures_dir.parent / "media" / "photos" / "ultralytics_zidane.jpg"
    if not photo.is_file():
        pytest.skip(f"{photo} not found")
    from wholebody.experts import WholeBodyEstimator

    people = WholeBodyEstimator(num_threads=1)(_rgb(photo))
    # Looked up on the photo (1280 x 720): the man on the left (head near x 580) points with his
    # left arm across to the right; the pointing hand lies in x 980-1160, y 400-490.
    def on_pointing_hand(box):
        centre = box[:2] + box[2:] / 2.0
        return box is not None and 980 <= centre[0] <= 1160 and 400 <= centre[1] <= 490

    holders = [(p, part) for p in people for part in ("lefthand", "righthand")
               if p.part_boxes.get(part) is not None and on_pointing_hand(p.part_boxes[part])]
    assert len(holders) == 1, [(round(p.score, 2), part) for p, part in holders]
    holder, part = holders[0]
    assert part == "lefthand"
    assert holder.keypoints[0, 0] < 700 and holder.score > 0  # a body, the pointing man's (nose left of x 700)


def test_a_foreshortened_forearm_gets_a_wide_wrist_centred_crop_and_a_normal_one_does_not():
    from wholebody.experts.assemble.foreshortened import WIDE_SIDE, foreshortened_hands

    # Left forearm 80 px (normal: its crop is 1.3 forearms, 104 px); right forearm 10 px, pointing at the camera.
    people = [person((100.0, 300.0), (300.0, 300.0), right_elbow=(300.0, 290.0))]
    scale = body_scale(people[0].keypoints)
    asked = []

    def landmarks(image, crop):
        asked.append(crop)
        return hand(crop.center, right=True, presence=0.95)

    def unsure(crop):  # a wrist crop that found no confident hand
        return HandLandmarks(np.full((21, 2), crop.center), 0.2, 0.5, np.zeros((21, 3)), crop)

    crop_hands = [(0, "left", unsure(SquareCrop((100.0, 328.0), 104.0, 0.0, 224))),
                  (0, "right", unsure(SquareCrop((300.0, 303.5), 13.0, 0.0, 224)))]
    image = np.zeros((600, 800, 3), np.uint8)
    found = foreshortened_hands(image, people, crop_hands, landmarks, 0.5, 20.0)
    assert [(i, side) for i, side, _ in found] == [(0, "right")]
    assert len(asked) == 1 and asked[0].center == pytest.approx((300.0, 300.0))  # on the wrist itself
    assert asked[0].side == pytest.approx(WIDE_SIDE * scale)
    people[0].keypoints[WRISTS[1], 2] = 0.3  # an unseen wrist is not looked at again
    assert foreshortened_hands(image, people, crop_hands, landmarks, 0.5, 20.0) == [] and len(asked) == 1


def test_insightface_card_hand_at_a_foreshortened_forearm_is_found_on_its_owner(fixtures_dir):
    pytest.importorskip("ai_edge_litert", reason="the part experts run with ai-edge-litert")
    photo = fixtures_dir.parent / "media" / "photos" / "insightface_t1.jpg"
    if not photo.is_file():
        pytest.skip(f"{photo} not found")
    from wholebody.experts import WholeBodyEstimator

    people = WholeBodyEstimator(num_threads=1)(_rgb(photo))
    # Looked up on the photo (1280 x 886): the blonde woman on the right (nose near x 1170, y 345)
    # holds cards in her left hand, x 1180-1265, y 565-630; her left forearm points at the camera
    # (21 px long), so her wrist crop was 27 px wide and found no hand.
    owner = [p for p in people if p.score > 0 and abs(p.keypoints[0, 0] - 1170) < 60 and abs(p.keypoints[0, 1] - 345) < 60]
    assert len(owner) == 1
    box = owner[0].part_boxes["lefthand"]
    assert box is not None
    centre = box[:2] + box[2:] / 2.0
    assert 1180 <= centre[0] <= 1265 and 565 <= centre[1] <= 630, box
    others = [p for p in people if p is not owner[0] for part in ("lefthand", "righthand")
              if p.part_boxes.get(part) is not None and box_iou(p.part_boxes[part], box) > 0.3]
    assert others == []  # nobody else holds it


def test_the_assembler_says_why_each_wrist_was_or_was_not_searched():
    people = [person((100.0, 300.0), (300.0, 300.0)), person((500.0, 300.0), (700.0, 300.0), wrist_score=0.3)]
    searched = []

    def region_palms(image, centre, side):
        searched.append(tuple(centre))
        return []

    assembler = HandAssembler(region_palms, landmarks=lambda image, crop: hand(crop.center, right=True, presence=0.1))
    crop_hands = [(0, "left", hand((100.0, 300.0), right=False)), (0, "right", hand((300.0, 300.0), right=True, presence=0.1)),
                  (1, "left", hand((500.0, 300.0), right=False, presence=0.1)),
                  (1, "right", hand((700.0, 300.0), right=True, presence=0.1))]
    assembler(np.zeros((600, 800, 3), np.uint8), people, crop_hands, None)
    notes = assembler.search_notes
    assert notes[(0, 0)] == "its crop found a hand"
    assert notes[(0, 1)].startswith("searched: 0 palm(s)") and len(searched) == 1  # person 0's right wrist only
    assert notes[(1, 0)].startswith("wrist score 0.30") and notes[(1, 1)].startswith("wrist score 0.30")
    assert assembler.taken == {(0, 0): 0} and len(assembler.candidates) == 1
