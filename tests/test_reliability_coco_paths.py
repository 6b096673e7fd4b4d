"""Images listed in a ``predict --coco ANN.json`` file that cannot be opened are reported with
their real reason (a symlink loop, a dangling link, a folder), and "no such file" only when
there is no such file; the other images are still processed."""

from __future__ import annotations

import os

import numpy as np
import orjson
from PIL import Image

import wholebody.cli.predict as predict_cli
from fake_estimator import FakeEstimator
from wholebody.cli.main import main
from wholebody.predict.plan import plan_from_coco

NAMES = ["good.png", "loop.jpg", "dangling.jpg", "folder.jpg", "absent.jpg"]


def _annotated_folder(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(np.full((40, 30, 3), 128, np.uint8)).save(folder / "good.png")
    os.symlink("loop.jpg", folder / "loop.jpg")  # a link to itself
    os.symlink("gone.jpg", folder / "dangling.jpg")
    (folder / "folder.jpg").mkdir()
    images = [{"id": k + 1, "file_name": name, "width": 30, "height": 40} for k, name in enumerate(NAMES)]
    annotations = tmp_path / "ann.json"
    annotations.write_bytes(orjson.dumps({"images": images, "annotations": [], "categories": []}))
    return folder, annotations


def test_each_listed_path_gets_its_real_reason(tmp_path):
    folder, annotations = _annotated_folder(tmp_path)
    reasons = {item.source.name: item.source.error for item in plan_from_coco(folder, annotations)}
    assert reasons == {"good.png": None,
                       "loop.jpg": "symbolic link loop (too many levels of symbolic links)",
                       "dangling.jpg": "symbolic link to a missing file (gone.jpg)",
                       "folder.jpg": "a folder, not an image file",
                       "absent.jpg": "no such file"}


def test_predict_names_the_loop_and_goes_on(tmp_path, monkeypatch, capsys):
    folder, annotations = _annotated_folder(tmp_path)
    monkeypatch.setattr(predict_cli, "load_estimator", lambda model_path, **options: FakeEstimator())
    out = tmp_path / "out"
    main(["predict", str(folder), "--coco", str(annotations), "--out", str(out), "-q", "--no-overlay"])
    err = capsys.readouterr().err
    assert f"{folder / 'loop.jpg'}: symbolic link loop" in err
    assert "loop.jpg: no such file" not in err
    done = {r["file_name"] for r in orjson.loads((out / "images.json").read_bytes()) if not r.get("error")}
    assert "good.png" in done
