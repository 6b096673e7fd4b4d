"""The optional dlib 68-point face expert (``face="dlib"``) on a real 300-W face."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

pytest.importorskip("dlib", reason="face='dlib' needs dlib-bin==20.0.1.post1")
# Located, never imported: its __init__ needs pkg_resources, which new setuptools dropped.
if importlib.util.find_spec("face_recognition_models") is None:
    pytest.skip("face='dlib' needs face-recognition-models==0.3.0", allow_module_level=True)

from wholebody.experts.benchmark import read_rgb  # noqa: E402
from wholebody.experts.crops import crop_from_box  # noqa: E402
from wholebody.experts.landmarks.dlib_face import DlibFaceExpert, predictor_path  # noqa: E402


def test_predictor_file_is_located_in_the_package():
    assert predictor_path().name == "shape_predictor_68_face_landmarks.dat" and predictor_path().is_file()


def test_dlib_landmarks_on_a_frontal_300w_face(fixtures_dir):
    folder = fixtures_dir / "300w"
    data = json.loads((folder / "test_300w.json").read_text())
    ann = next(a for a in data["annotations"] if a["image_id"] == 565)  # indoor_020.png, near-frontal
    truth = np.array(ann["keypoints"]).reshape(68, 3)[:, :2]
    crop = crop_from_box(np.array(ann["bbox"]), 1.3, 256)
    face = DlibFaceExpert()(read_rgb(folder / "indoor_020.png"), crop)
    nme = np.linalg.norm(face.ibug68() - truth, axis=1).mean() / np.linalg.norm(truth[36] - truth[45])
    assert face.presence == 1.0 and nme < 0.08
    assert face.metric_68() is None and face.box().shape == (4,)
