"""Specification of the keypoint schema: the 133 layout and every mapping onto it."""

from __future__ import annotations

import numpy as np
import pytest

from wholebody import schema
from wholebody.schema import (
    COCO17, COCO_WHOLEBODY, DOPE_BODY13, DOPE_FACE84, DOPE_HAND21, HALPE136, LAYOUTS, MEDIAPIPE_HAND21,
    MEDIAPIPE_POSE33, convert, from_wholebody, hand_to_wholebody, to_wholebody,
)


def test_parts_tile_the_133_points():
    slices = [schema.PART_SLICES[p] for p in schema.PARTS]
    assert [s.start for s in slices] == [0, 17, 23, 91, 112] and slices[-1].stop == 133
    assert [s.stop - s.start for s in slices] == [17, 6, 68, 21, 21]
    assert len(schema.KEYPOINT_NAMES) == len(set(schema.KEYPOINT_NAMES)) == 133


def test_sigma_slices_match_the_parts():
    assert schema.SIGMAS.shape == (133,)
    by_part = schema.SIGMAS_BY_PART
    assert by_part["foot"].tolist() == [0.068, 0.066, 0.066, 0.092, 0.094, 0.094]
    assert by_part["body"][:3].tolist() == [0.026, 0.025, 0.025]
    assert by_part["face"][47] == 0.034  # face-47 (index 70): the documented outlier, kept verbatim
    np.testing.assert_array_equal(by_part["lefthand"], by_part["righthand"])
    np.testing.assert_array_equal(np.concatenate([by_part[p] for p in schema.PARTS]), schema.SIGMAS)
    assert by_part["wholebody"] is schema.SIGMAS


@pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=list(LAYOUTS))
def test_flip_pairs_are_an_involution(layout):
    perm = layout.flip_permutation()
    np.testing.assert_array_equal(perm[perm], np.arange(layout.num_keypoints))
    flat = [i for pair in layout.flip_pairs for i in pair]
    assert len(flat) == len(set(flat)), "a point appears in two flip pairs"


def test_flip_pairs_swap_left_and_right_names():
    names = schema.KEYPOINT_NAMES
    for i, j in schema.FLIP_PAIRS:
        if names[i].startswith("left_"):
            assert names[j] == "right_" + names[i][5:]
    assert len(schema.FLIP_PAIRS) == 61
    fixed = set(range(133)) - {i for p in schema.FLIP_PAIRS for i in p}
    assert fixed == {0, 31, 50, 51, 52, 53, 56, 74, 80, 85, 89}


def test_skeleton_is_the_official_65_links_within_parts():
    assert len(schema.SKELETON) == 65
    for i, j in schema.DRAW_SKELETON:
        assert 0 <= i < 133 and 0 <= j < 133
    assert all(schema.link_color(i, j) for i, j in schema.DRAW_SKELETON)
    # face links are drawing-only and join face points
    face = schema.PART_SLICES["face"]
    extra = set(schema.DRAW_SKELETON) - set(schema.SKELETON)
    assert extra and all(face.start <= i < face.stop and face.start <= j < face.stop for i, j in extra)


def _by_name(layout, name):
    return layout.keypoints.index(name)


def test_coco17_and_halpe_map_by_name():
    for layout in (COCO17, HALPE136):
        for k, wb in enumerate(layout.to_wholebody):
            if wb >= 0:
                assert layout.keypoints[k] == schema.KEYPOINT_NAMES[wb]
    assert (HALPE136.to_wholebody == -1).sum() == 3  # head, neck, mid-hip have no 133 point
    assert HALPE136.to_wholebody[_by_name(HALPE136, "right_heel")] == 22


def test_dope_layouts_map_to_the_right_points():
    assert DOPE_BODY13.to_wholebody[0] == schema.KEYPOINT_NAMES.index("right_ankle")
    assert DOPE_BODY13.to_wholebody[12] == -1  # head top
    # DOPE hand finger n: 0 -> n+1 -> 3n+6 -> 3n+7 -> 3n+8 ; COCO finger n: 1+4n .. 4+4n
    for n in range(5):
        chain = [0, n + 1, 3 * n + 6, 3 * n + 7, 3 * n + 8]
        assert (DOPE_HAND21.to_wholebody[chain] - 112).tolist() == [0, 1 + 4 * n, 2 + 4 * n, 3 + 4 * n, 4 + 4 * n]
    # Face 84: the 17 iBUG jaw points are every other point of the 33-point jaw; the rest shift by 16
    assert (DOPE_FACE84.to_wholebody[0:33:2] - 23).tolist() == list(range(17))
    assert (DOPE_FACE84.to_wholebody[1:33:2] == -1).all()
    assert DOPE_FACE84.to_wholebody[33 + 36 - 17] == 23 + 36  # right eye outer corner


def test_mediapipe_maps():
    wb = MEDIAPIPE_POSE33.to_wholebody
    assert wb[_by_name(MEDIAPIPE_POSE33, "left_foot_index")] == schema.KEYPOINT_NAMES.index("left_big_toe")
    assert wb[_by_name(MEDIAPIPE_POSE33, "right_heel")] == schema.KEYPOINT_NAMES.index("right_heel")
    assert sorted(wb[wb >= 0].tolist()) == [i for i in range(23) if schema.KEYPOINT_NAMES[i] not in ("left_small_toe", "right_small_toe")]
    assert schema.FACEMESH_TO_IBUG68.shape == (68,) and len(set(schema.FACEMESH_TO_IBUG68.tolist())) == 68
    assert schema.FACEMESH_TO_IBUG68.max() < 468
    mesh = np.arange(468 * 2).reshape(468, 2)
    np.testing.assert_array_equal(schema.facemesh_to_ibug68(mesh)[:, 0], 2 * schema.FACEMESH_TO_IBUG68)


@pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=list(LAYOUTS))
def test_round_trip_through_the_133_order(layout):
    rng = np.random.default_rng(0)
    points = rng.uniform(1, 100, (2, layout.num_keypoints, 3))
    back = from_wholebody(to_wholebody(points, layout), layout)
    mapped = layout.to_wholebody >= 0
    np.testing.assert_array_equal(back[:, mapped], points[:, mapped])
    assert (back[:, ~mapped] == 0).all()  # unmapped points come back with score 0, never made up


def test_missing_points_get_score_zero_and_flip_commutes_with_conversion():
    pose = np.random.default_rng(1).uniform(1, 100, (33, 3))
    wb = to_wholebody(pose, MEDIAPIPE_POSE33)
    assert wb[schema.KEYPOINT_NAMES.index("left_small_toe"), 2] == 0
    assert (wb[23:, 2] == 0).all()
    # relabelling a mirrored pose before or after conversion gives the same 133 points
    flipped_first = to_wholebody(pose[MEDIAPIPE_POSE33.flip_permutation()], MEDIAPIPE_POSE33)
    np.testing.assert_array_equal(flipped_first, wb[COCO_WHOLEBODY.flip_permutation()])
    halpe = convert(wb, COCO_WHOLEBODY, HALPE136)
    assert halpe.shape == (136, 3)


def test_hand_side_placement():
    hand = np.random.default_rng(2).uniform(1, 50, (21, 3))
    left = hand_to_wholebody(hand, right=False, layout=MEDIAPIPE_HAND21)
    right = hand_to_wholebody(hand, right=True, layout=MEDIAPIPE_HAND21)
    np.testing.assert_array_equal(left[91:112], hand)
    assert (left[112:] == 0).all() and (right[91:112] == 0).all()
    np.testing.assert_array_equal(right[112:], hand)
    dope = hand_to_wholebody(hand, right=False, layout=DOPE_HAND21)
    np.testing.assert_array_equal(dope[91 + 4], hand[8])  # thumb tip: DOPE 8 -> COCO thumb4


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="expected 33 points"):
        to_wholebody(np.zeros((17, 3)), MEDIAPIPE_POSE33)
    with pytest.raises(ValueError, match="468"):
        schema.facemesh_to_ibug68(np.zeros((68, 3)))
