"""plot_person_3d / assemble_3d: parts placed at the body, a PNG written atomically."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from wholebody.types import Person
from wholebody.viz.plot3d import assemble_3d, plot_person_3d

# Human3.6M 17-joint order -> COCO-WholeBody body index (the head joint stands in for the nose).
H36M_TO_COCO = {10: 0, 11: 5, 14: 6, 12: 7, 15: 8, 13: 9, 16: 10, 4: 11, 1: 12, 5: 13, 2: 14, 6: 15, 3: 16}


def _h36m_person(fixtures_dir) -> Person:
    """A real 3D body (Human3.6M camera frame, metres) with small synthetic hands and face."""
    data = np.load(fixtures_dir / "h36m" / "test_h36m_body3d.npz")
    camera = data["S"][0, :, :3]
    body = np.full((23, 3), np.nan)
    for h36m, coco in H36M_TO_COCO.items():
        body[coco] = camera[h36m]
    body -= (body[11] + body[12]) / 2  # root-relative: mid-hip
    keypoints = np.zeros((133, 3))
    keypoints[:, 2] = 0.9
    keypoints[np.flatnonzero(np.isnan(body[:, 0])), 2] = 0.0  # eyes, ears, feet: no 3D, not drawn
    fingers = np.array([[0.0, 0.0, 0.0]] + [[0.02 * (f - 2), 0.025 * j, 0.0] for f in range(5) for j in range(1, 5)])
    angles = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    face = np.stack([0.07 * np.cos(angles), 0.09 * np.sin(angles), np.zeros(68)], axis=1)
    return Person(keypoints=keypoints, score=0.9,
                  keypoints_3d={"body": body, "lefthand": fingers, "righthand": fingers, "face": face})


def test_hands_and_face_are_placed_at_wrists_and_nose(fixtures_dir):
    person = _h36m_person(fixtures_dir)
    points, drawable = assemble_3d(person)
    body = person.keypoints_3d["body"]
    np.testing.assert_allclose(points[91], body[9])  # left hand root on the left wrist
    np.testing.assert_allclose(points[112], body[10])
    np.testing.assert_allclose(points[23:91].mean(axis=0), body[0], atol=1e-12)  # face centroid on the nose
    assert drawable[:17].sum() == 13 and drawable[91:].all() and not drawable[1:5].any()
    height = np.nanmax(points[:, 1]) - np.nanmin(points[:, 1])
    assert 1.3 < height < 2.0  # a standing adult, in metres


def test_scores_and_missing_parts_decide_what_is_drawn():
    person = Person(keypoints=np.zeros((133, 3)), score=0.5, keypoints_3d={"lefthand": np.ones((21, 3))})
    person.keypoints[91:112, 2] = 0.8
    points, drawable = assemble_3d(person, score_thr=0.3)
    np.testing.assert_allclose(points[91], 0.0)  # no body: the hand stays in its own frame
    assert drawable.sum() == 21 and np.isnan(points[:91]).all()
    assert not assemble_3d(person, score_thr=0.8)[1].any()  # score must be above the threshold


def test_plot_is_written_atomically(fixtures_dir, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "plots" / "person0.png"
    plot_person_3d(_h36m_person(fixtures_dir), path, title="H3.6M S1, person 0")
    with Image.open(path) as image:
        assert image.format == "PNG" and min(image.size) > 300
        pixels = np.asarray(image.convert("RGB"))
    assert (pixels.std(axis=2) > 40).mean() > 0.001  # coloured skeleton lines, not a blank canvas
    assert [p.name for p in path.parent.iterdir()] == ["person0.png"]


def test_plot_without_3d_still_writes_a_labelled_png(tmp_path):
    pytest.importorskip("matplotlib")
    plot_person_3d(Person(keypoints=np.zeros((133, 3)), score=0.1), tmp_path / "empty.png")
    with Image.open(tmp_path / "empty.png") as image:
        assert image.format == "PNG"
        grey = np.asarray(image.convert("L"))
    assert (grey < 128).mean() > 0.0005  # axes and labels are drawn
    assert (grey.std() > 5) and (np.asarray(grey) > 200).mean() > 0.5  # ... on a mostly light, otherwise empty canvas
