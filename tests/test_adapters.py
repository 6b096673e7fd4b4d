"""DOPE data adapters on the real fixtures: H36M (npz, JSON + cameras), H3WB, RHD, 300W, COCO-WholeBody, folders."""

import json
import os
import pickle

import numpy as np
import pytest

from wholebody.data.adapters import cocowb, face300w, folder, h3wb, h36m, rhd
from wholebody.data.adapters.sample import convert_points, pose_box
from wholebody.data.errors import AnnotationError
from wholebody.models.dope.layout import PAPER, WB_HAND21, WHOLEBODY
from wholebody.schema import DOPE_HAND21


def test_h36m_npz_body_in_metres_root_relative(fixtures_dir):
    samples = h36m.load_h36m_npz(fixtures_dir / "h36m" / "test_h36m_body3d.npz")
    raw = np.load(fixtures_dir / "h36m" / "test_h36m_body3d.npz")
    assert len(samples) == 4 and all(s.image_path.is_file() for s in samples)
    for sample, part2d in zip(samples, raw["part"]):
        (body,) = sample.instances
        assert sample.labelled_parts == {"body"} and body.visible2d.sum() == 12 and body.visible3d.sum() == 12
        assert np.allclose(body.pose3d[list(WHOLEBODY.body_hips)].mean(0), 0, atol=1e-9)
        thigh = np.linalg.norm(body.pose3d[11] - body.pose3d[13])  # left hip - left knee
        assert 0.3 < thigh < 0.6
        assert np.allclose(body.pose2d[9], part2d[13, :2])  # COCO left wrist <- H36M joint 13
    paper = h36m.load_h36m_npz(fixtures_dir / "h36m" / "test_h36m_body3d.npz", layout="paper")
    head = paper[0].instances[0]
    assert head.visible2d.sum() == 13 and np.allclose(head.pose2d[12], raw["part"][0, 10, :2])


def test_h36m_json_with_cameras_matches_npz(fixtures_dir):
    folder_ = fixtures_dir / "h36m"
    from_json = h36m.load_h36m_coco(folder_ / "h36m_coco.json", folder_ / "cameras.pkl")
    from_npz = {s.image_path.name: s for s in h36m.load_h36m_npz(folder_ / "test_h36m_body3d.npz")}
    assert len(from_json) == 4
    for sample in from_json:
        assert sample.image_path.is_file()
        a, b = sample.instances[0], from_npz[sample.image_path.name].instances[0]
        assert np.allclose(a.pose3d, b.pose3d, atol=1e-5) and np.allclose(a.pose2d, b.pose2d, atol=1e-3)
        # left/right by geometry, not by the JSON's swapped names: the left hip is nearer the left shoulder
        assert np.linalg.norm(a.pose3d[11] - a.pose3d[5]) < np.linalg.norm(a.pose3d[11] - a.pose3d[6])


def test_camera_pickle_refuses_non_numpy_globals(tmp_path, fixtures_dir):
    cameras = h36m.load_cameras(fixtures_dir / "h36m" / "cameras.pkl")
    assert len(cameras) == 44 and cameras[("S1", "54138969")]["R"].shape == (3, 3)
    evil = tmp_path / "cameras.pkl"
    evil.write_bytes(pickle.dumps({"x": os.getcwd}))
    with pytest.raises(AnnotationError, match="refusing"):
        h36m.load_cameras(evil)


def test_h3wb_sample_has_all_parts_in_3d(fixtures_dir):
    (sample,) = h3wb.load_h3wb(fixtures_dir / "h3wb" / "h3wb_train_bbox_subset.npz")
    assert sample.image_path is None and sample.record == "S5/Directions 1/60457274/2190"
    parts = sorted((i.part, i.is_right) for i in sample.instances)
    assert parts == [("body", None), ("face", None), ("hand", False), ("hand", True)]
    assert all(i.visible3d.all() for i in sample.instances)
    hand = next(i for i in sample.instances if i.part == "hand")
    assert np.allclose(hand.pose3d[0], 0)  # wrist-relative


def test_rhd_hands_2d_3d_metres_and_sides(fixtures_dir):
    samples = rhd.load_rhd(fixtures_dir / "rhd" / "test_rhd.json")
    raw = json.loads((fixtures_dir / "rhd" / "test_rhd.json").read_text())
    hands = [h for s in samples for h in s.instances]
    assert len(samples) == 3 and all(s.image_path.is_file() for s in samples)
    assert sorted(h.is_right for h in hands) == [False, False, True]
    first = samples[0].instances[0]
    joints = np.asarray(raw["annotations"][0]["joint_cam"])
    # mm -> m, wrist-relative; RHD's tip-to-base finger order becomes COCO's base-to-tip
    assert np.allclose(first.pose3d[1:5], (joints[4:0:-1] - joints[0]) / 1000)
    assert np.allclose(first.pose2d[[0, 4, 8]], np.asarray(raw["annotations"][0]["keypoints"])[[0, 1, 5], :2])
    for hand in hands:  # every finger: the phalanx at the base is longer than the one at the tip
        for f in range(5):
            base, tip = 1 + 4 * f, 4 + 4 * f
            assert np.linalg.norm(hand.pose3d[base + 1] - hand.pose3d[base]) > np.linalg.norm(hand.pose3d[tip] - hand.pose3d[tip - 1])
    focal, centre = rhd.camera_intrinsics(fixtures_dir / "rhd" / "test_rhd.json")["00111.png"]
    projected = joints[:, :2] / joints[:, 2:] * focal + centre
    assert np.abs(projected - np.asarray(raw["annotations"][0]["keypoints"])[:, :2]).max() < 1.0
    bone = np.linalg.norm(first.pose3d[2] - first.pose3d[1])  # thumb base -> next joint
    assert 0.01 < bone < 0.06
    paper = rhd.load_rhd(fixtures_dir / "rhd" / "test_rhd.json", layout=PAPER)[0].instances[0]
    assert np.allclose(paper.pose2d[6], first.pose2d[2])  # DOPE thumb joint 2 = COCO thumb2


def test_rhd_flat_keypoints_are_reported(tmp_path, fixtures_dir):
    raw = json.loads((fixtures_dir / "rhd" / "test_rhd.json").read_text())
    raw["annotations"][1]["keypoints"] = [v for triplet in raw["annotations"][1]["keypoints"] for v in triplet]
    bad = tmp_path / "bad_rhd.json"
    bad.write_text(json.dumps(raw))
    with pytest.raises(AnnotationError, match=r"record .*keypoints.*nested"):
        rhd.load_rhd(bad)


def test_300w_faces(fixtures_dir):
    samples = face300w.load_300w(fixtures_dir / "300w" / "test_300w.json")
    assert len(samples) == 2 and all(s.image_path.is_file() for s in samples)
    face = samples[0].instances[0]
    assert face.part == "face" and face.visible2d.all() and face.pose3d is None and samples[0].labelled_parts == {"face"}
    paper = face300w.load_300w(fixtures_dir / "300w" / "test_300w.json", layout="paper")[0].instances[0]
    assert paper.pose2d.shape == (84, 2) and paper.visible2d.sum() == 68 and not paper.visible2d[1:33:2].any()
    assert np.allclose(paper.pose2d[32], face.pose2d[16])


def test_coco_wholebody_parts_per_person(fixtures_dir):
    samples = cocowb.load_cocowb(fixtures_dir / "coco_wholebody" / "test_coco_wholebody.json")
    assert len(samples) == 4 and all(s.image_path.is_file() for s in samples)
    counts = {}
    for inst in (i for s in samples for i in s.instances):
        key = inst.part if inst.part != "hand" else ("righthand" if inst.is_right else "lefthand")
        counts[key] = counts.get(key, 0) + 1
    assert counts == {"body": 12, "face": 4, "lefthand": 5, "righthand": 5}
    assert all(s.labelled_parts == {"body", "hand", "face"} for s in samples)
    box = next(i for i in samples[0].instances if i.part == "body").box
    assert box[2] > box[0] and box[3] > box[1]


def test_unlabelled_folder_and_missing_inputs(fixtures_dir, tmp_path, caplog):
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    samples = folder.load_unlabelled([fixtures_dir / "coco", tmp_path / "nothing_here.jpg", tmp_path / "broken.mp4"])
    assert len(samples) == 4 and all(not s.instances and not s.labelled_parts for s in samples)
    assert "nothing_here" in caplog.text and "broken.mp4" in caplog.text


def test_convert_points_and_pose_box():
    points = np.arange(42.0).reshape(21, 2)
    converted, mask = convert_points(points, np.ones(21, bool), WB_HAND21, DOPE_HAND21)
    back, _ = convert_points(converted, mask, DOPE_HAND21, WB_HAND21)
    assert mask.all() and np.allclose(back, points)
    assert pose_box(points, np.zeros(21, bool)) is None
    assert np.allclose(pose_box(np.array([[0.0, 0.0], [10.0, 10.0]]), np.ones(2, bool)), [-1, -1, 11, 11])


def test_bad_records_are_skipped_when_asked(tmp_path, fixtures_dir):
    raw = json.loads((fixtures_dir / "300w" / "test_300w.json").read_text())
    raw["annotations"][0]["keypoints"] = raw["annotations"][0]["keypoints"][:-3]  # 67 points
    bad = tmp_path / "bad_300w.json"
    bad.write_text(json.dumps(raw))
    with pytest.raises(AnnotationError, match="68 x 3"):
        face300w.load_300w(bad)
    errors = []
    samples = face300w.load_300w(bad, errors=errors)
    assert len(samples) == 1 and len(errors) == 1 and "record 197" in errors[0]


def test_coco_wholebody_bad_record_skips_its_image(tmp_path, fixtures_dir):
    raw = json.loads((fixtures_dir / "coco_wholebody" / "test_coco_wholebody.json").read_text())
    raw["annotations"][0]["face_kpts"] = [1.0, 2.0]
    bad = tmp_path / "bad_wb.json"
    bad.write_text(json.dumps(raw))
    errors = []
    samples = cocowb.load_cocowb(bad, errors=errors)
    assert len(errors) == 1 and len(samples) == 3
    assert raw["annotations"][0]["image_id"] not in {int(s.record) for s in samples}


def test_sources(fixtures_dir):
    from wholebody.data.adapters.sources import load_source, parse_source, read_sample_image

    assert parse_source("h36m_coco=a.json,b.pkl") == ("h36m_coco", ["a.json", "b.pkl"])
    for bad in ("nonsense", "unknown=x", "rhd="):
        with pytest.raises(ValueError, match="KIND=PATH"):
            parse_source(bad)
    folder_ = fixtures_dir / "h36m"
    samples = load_source(f"h36m_coco={folder_ / 'h36m_coco.json'},{folder_ / 'cameras.pkl'}", "paper")
    assert len(samples) == 4 and samples[0].instances[0].pose2d.shape == (13, 2)
    image = read_sample_image(samples[0])
    assert image.shape == (1002, 1000, 3) and image.dtype == np.uint8
