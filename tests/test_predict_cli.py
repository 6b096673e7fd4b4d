"""``wholebody predict`` end to end, in a subprocess, with the fake estimator in place of the experts.

The subprocess runs the real CLI entry point after replacing ``wholebody.cli.predict.
load_estimator`` (the one hook for building estimators), so everything else is the code users run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest
from PIL import Image

from wholebody.predict.outdir import MANIFEST_NAME

cv2 = pytest.importorskip("cv2")
TESTS = Path(__file__).resolve().parent
XTCOCOTOOLS_MISSING = ("the reference evaluator xtcocotools is not installed (dev extra; scripts/test.sh builds it "
                       "from source, since its wheel fails with numpy 2)")

RUN_WITH_FAKE = """
import sys
sys.path.insert(0, {tests!r})
import wholebody.cli.predict as predict
from fake_estimator import FakeEstimator
predict.load_estimator = lambda model_path, **options: FakeEstimator()
from wholebody.cli.main import main
sys.exit(main(sys.argv[1:]))
"""
RUN_WITH_BROKEN_MODEL = """
import sys
import wholebody.cli.predict as predict
def no_model(model_path, **options):
    raise RuntimeError("model files are missing")
predict.load_estimator = no_model
from wholebody.cli.main import main
sys.exit(main(sys.argv[1:]))
"""

RUN_WITH_FLAKY = """
import sys
sys.path.insert(0, {tests!r})
import wholebody.cli.predict as predict
from fake_estimator import FakeEstimator
class Flaky(FakeEstimator):
    def __call__(self, image, person_boxes=None, person_scores=None):
        if image.shape[1] == 123:
            raise ValueError("cannot handle width 123")
        return super().__call__(image, person_boxes, person_scores)
predict.load_estimator = lambda model_path, **options: Flaky()
from wholebody.cli.main import main
sys.exit(main(sys.argv[1:]))
"""

RUN_COUNTING_DETECTIONS = """
import atexit, sys
sys.path.insert(0, {tests!r})
import wholebody.cli.predict as predict
from fake_estimator import FakeEstimator
calls = {{"detect": 0, "follow": 0}}
class Counting(FakeEstimator):  # like a real model, finds the people in the image whatever the boxes
    def __call__(self, image, person_boxes=None, person_scores=None):
        calls["detect" if person_boxes is None else "follow"] += 1
        return super().__call__(image)
atexit.register(lambda: print("calls", calls["detect"], calls["follow"], file=sys.stderr))
predict.load_estimator = lambda model_path, **options: Counting()
from wholebody.cli.main import main
sys.exit(main(sys.argv[1:]))
"""

RUN_RECORDING_OPTIONS = """
import sys
sys.path.insert(0, {tests!r})
import wholebody.cli.predict as predict
from fake_estimator import FakeEstimator
def recording(model_path, **options):
    print("options", *(f"{{k}}={{v}}" for k, v in sorted(options.items())), file=sys.stderr)
    return FakeEstimator()
predict.load_estimator = recording
from wholebody.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def _predict(*args, script: str | None = RUN_WITH_FAKE) -> subprocess.CompletedProcess:
    code = ["-m", "wholebody"] if script is None else ["-c", script.format(tests=str(TESTS))]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, *code, "predict", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=120)


def _people_image(path: Path, boxes, size=(240, 320)) -> None:
    image = np.zeros((*size, 3), np.uint8)
    for x, y, w, h in boxes:
        image[y:y + h, x:x + w] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)


def _load(path: Path):
    return orjson.loads(path.read_bytes())


def test_folder_with_bad_files_is_processed_and_exits_1(tmp_path):
    data = tmp_path / "in"
    _people_image(data / "two.JPG", [(40, 40, 60, 150), (180, 50, 60, 160)])
    _people_image(data / "sub" / "nobody.png", [])
    (data / "sub" / "notes.jpg").write_text("not an image")
    _people_image(data / "cut.jpg", [(40, 40, 60, 150)])
    (data / "cut.jpg").write_bytes((data / "cut.jpg").read_bytes()[:300])
    out = tmp_path / "out"
    done = _predict(data, "--out", out, "--plot3d")
    assert done.returncode == 1, done.stderr
    assert f"{data / 'sub' / 'notes.jpg'}: not an image" in done.stderr
    assert f"{data / 'cut.jpg'}: truncated or corrupt" in done.stderr
    assert "2 images, 0 videos (0 frames), 2 people, 2 failed" in done.stdout

    results = _load(out / "results.json")
    assert [r["file_name"] for r in results] == ["two.JPG", "two.JPG"]
    assert len({r["image_id"] for r in results}) == 1 and all(len(r["face_kpts"]) == 204 for r in results)
    images = {r["file_name"]: r for r in _load(out / "images.json")}
    assert images["sub/nobody.png"]["num_people"] == 0 and "error" not in images["sub/nobody.png"]
    assert "not an image" in images["sub/notes.jpg"]["error"]
    assert len(_load(out / "results_3d.json")["people"]) == 2
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != MANIFEST_NAME)
    assert written == ["images.json", "overlays/sub/nobody.png", "overlays/two.png", "plots3d/two_person0.png",
                       "plots3d/two_person1.png", "results.json", "results_3d.json"]  # no temp files

    COCO = pytest.importorskip("xtcocotools.coco", reason=XTCOCOTOOLS_MISSING).COCO

    coco = COCO()
    coco.dataset = {"images": [{"id": r["id"]} for r in images.values() if r["id"] is not None],
                    "annotations": [], "categories": [{"id": 1, "name": "person"}]}
    coco.createIndex()
    loaded = coco.loadRes(str(out / "results.json"))
    assert len(loaded.getAnnIds()) == 2


def test_coco_mode_keeps_the_annotation_ids(fixtures_dir, tmp_path):
    folder = fixtures_dir / "coco_wholebody"
    ann = folder / "test_coco_wholebody.json"
    out = tmp_path / "out"
    done = _predict(folder, "--coco", ann, "--boxes", fixtures_dir / "coco" / "test_coco_det_AP_H_56.json",
                    "--box-thr", "0.5", "--out", out, "--no-overlay", "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # --quiet: no summary
    results = _load(out / "results.json")
    assert {r["image_id"] for r in results} == {785, 40083, 196141, 197388}
    detections = [d for d in _load(fixtures_dir / "coco" / "test_coco_det_AP_H_56.json") if d["score"] >= 0.5]
    assert len(results) == len(detections)  # one person per box; the box score reaches the estimator
    np.testing.assert_allclose(sorted(r["score"] for r in results), sorted(0.9 * d["score"] for d in detections),
                               atol=1e-5)
    assert not (out / "overlays").exists()

    COCO = pytest.importorskip("xtcocotools.coco", reason=XTCOCOTOOLS_MISSING).COCO

    from wholebody.data.cocowb import load_ground_truth, load_results

    gt = COCO(str(ann))
    assert len(gt.loadRes(str(out / "results.json")).getAnnIds()) == len(results)
    assert len(load_results(out / "results.json", load_ground_truth(ann))) == len(results)


def _two_walkers(video: Path, frames: int = 15) -> Path:
    """A 320x240 video of two bright 'people' walking towards each other, 5 px per frame."""
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
    for t in range(frames):
        frame = np.zeros((240, 320, 3), np.uint8)
        frame[40:190, 20 + 5 * t:80 + 5 * t] = 255  # walks right
        frame[50:200, 240 - 5 * t:300 - 5 * t] = 255  # walks left
        writer.write(frame)
    writer.release()
    return video


def test_video_gets_frames_track_ids_and_an_overlay_video(tmp_path):
    video = _two_walkers(tmp_path / "walk.MP4")
    out = tmp_path / "out"
    done = _predict(video, "--out", out)
    assert done.returncode == 0, done.stderr
    results = _load(out / "results.json")
    assert sorted({r["frame"] for r in results}) == list(range(15))
    assert len({r["image_id"] for r in results}) == 15 and all(r["file_name"] == "walk.MP4" for r in results)
    assert len(results) == 30  # two people in each of the 15 frames
    left = {r["track_id"] for r in results if abs(r["person_box"][0] - (20 + 5 * r["frame"])) < 3}
    right = {r["track_id"] for r in results if abs(r["person_box"][0] - (240 - 5 * r["frame"])) < 3}
    assert len(left) == 1 and len(right) == 1 and left != right  # each walker keeps one id
    first_ids = left | right
    assert {p["track_id"] for p in _load(out / "results_3d.json")["people"]} == first_ids
    capture = cv2.VideoCapture(str(out / "overlays" / "walk.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 15
    drawn = capture.read()[1]  # frame 0 of the overlay, BGR
    capture.release()
    source = cv2.VideoCapture(str(video))
    plain_frame = source.read()[1]
    source.release()
    changed = np.abs(drawn.astype(int) - plain_frame.astype(int)).max(axis=2) > 40  # beyond codec noise
    points = [p for r in results if r["frame"] == 0 for p in np.reshape(r["keypoints"], (17, 3)) if p[2] > 0.3]
    assert len(points) == 34 and np.mean([changed[int(y), int(x)] for x, y, _ in points]) > 0.8  # skeleton drawn
    assert changed.mean() < 0.3
    plain = _predict(video, "--out", tmp_path / "plain", "--no-track", "--no-overlay")
    assert plain.returncode == 0 and all("track_id" not in r for r in _load(tmp_path / "plain" / "results.json"))


def test_video_detect_every_n_frames_follows_people_in_between(tmp_path):
    video = _two_walkers(tmp_path / "walk.mp4")
    out = tmp_path / "out"
    done = _predict(video, "--out", out, "--detect-every", "3", "--no-overlay", script=RUN_COUNTING_DETECTIONS)
    assert done.returncode == 0, done.stderr
    assert "calls 5 10" in done.stderr  # detector on frames 0, 3, 6, 9, 12; the others follow
    results = _load(out / "results.json")
    assert len(results) == 30 and len({r["track_id"] for r in results}) == 2
    every = _predict(video, "--out", tmp_path / "every", "--no-overlay", script=RUN_COUNTING_DETECTIONS)
    assert every.returncode == 0 and "calls 15 0" in every.stderr


def test_usage_errors_exit_2(tmp_path, fixtures_dir):
    _people_image(tmp_path / "a.png", [])
    for args in (["--threads", "0"], ["--detect-every", "0"], ["--score-thr", "2"],
                 ["--coco", tmp_path / "x.json", tmp_path / "a.png"]):
        done = _predict(tmp_path, "--out", tmp_path / "out", *args)
        assert done.returncode == 2 and "error" in done.stderr, (args, done.stderr)
    (tmp_path / "boxes.json").write_text("[{\"image_id\": 1, \"bbox\": [0, 0, 1, 1]}]")
    done = _predict(tmp_path / "a.png", "--out", tmp_path / "out", "--boxes", tmp_path / "boxes.json")
    assert done.returncode == 2 and "need --coco" in done.stderr
    assert _predict("--out", tmp_path / "out").returncode == 2  # no INPUT at all


def test_unbuildable_estimator_leaves_earlier_outputs_untouched(tmp_path):
    _people_image(tmp_path / "in" / "a.png", [(10, 10, 50, 100)])
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("[]")
    done = _predict(tmp_path / "in", "--out", out, script=RUN_WITH_BROKEN_MODEL)
    assert done.returncode == 1 and "model files are missing" in done.stderr
    assert sorted(p.name for p in out.iterdir() if p.name != MANIFEST_NAME) == ["results.json"]  # no temp files
    assert (out / "results.json").read_text() == "[]"


def test_unreadable_checkpoints_and_missing_inputs_fail(tmp_path):
    _people_image(tmp_path / "a.png", [])
    (tmp_path / "model.pt").write_bytes(b"x")
    done = _predict(tmp_path / "a.png", "--out", tmp_path / "out", "--model", tmp_path / "model.pt", script=None)
    assert done.returncode == 1 and "model.pt: cannot read checkpoint" in done.stderr
    done = _predict(tmp_path / "nope.jpg", str(tmp_path / "*.gif"), "--out", tmp_path / "out")
    assert done.returncode == 1 and "no such file or folder" in done.stderr and "pattern matched" in done.stderr


def test_estimator_error_on_one_image_is_reported_and_the_rest_go_on(tmp_path):
    _people_image(tmp_path / "in" / "a.png", [(10, 10, 40, 100)])
    _people_image(tmp_path / "in" / "b.png", [(10, 10, 40, 100)], size=(120, 123))
    _people_image(tmp_path / "in" / "c.png", [(10, 10, 40, 100)])
    done = _predict(tmp_path / "in", "--out", tmp_path / "out", "--no-overlay", script=RUN_WITH_FLAKY)
    assert done.returncode == 1
    assert f"{tmp_path / 'in' / 'b.png'}: estimator failed: ValueError: cannot handle width 123" in done.stderr
    assert [r["file_name"] for r in _load(tmp_path / "out" / "results.json")] == ["a.png", "c.png"]


def test_video_with_a_broken_frame_is_reported_and_goes_on(tmp_path):
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (160, 120))
    for t in range(20):
        frame = np.zeros((120, 160, 3), np.uint8)
        frame[20:100, 10 + 3 * t:40 + 3 * t] = 255
        writer.write(frame)
    writer.release()
    data = bytearray(video.read_bytes())
    starts = [i for i in range(len(data) - 3) if data[i:i + 4] == b"\x00\x00\x01\xb6"]  # picture start codes
    data[starts[12]:starts[12] + 4] = b"\x12\x34\x56\x78"
    video.write_bytes(bytes(data))
    out = tmp_path / "out"
    done = _predict(video, "--out", out)
    assert done.returncode == 1
    assert f"{video} frame 12: frame could not be decoded" in done.stderr
    frames = sorted(r["frame"] for r in _load(out / "results.json"))
    assert frames == [t for t in range(20) if t != 12]  # later frames keep their true indices
    errors = [r for r in _load(out / "images.json") if "error" in r]
    assert [(r["file_name"], r["frame"]) for r in errors] == [("clip.mp4", 12)]
    assert len({r["track_id"] for r in _load(out / "results.json")}) == 1  # one walker, one id across the gap
    assert (out / "overlays" / "clip.mp4").stat().st_size > 0


def test_model_choices_reach_the_estimator(tmp_path):
    _people_image(tmp_path / "a.png", [(40, 40, 80, 200)])
    default = _predict(tmp_path / "a.png", "--out", tmp_path / "out1", "--no-overlay", script=RUN_RECORDING_OPTIONS)
    assert default.returncode == 0, default.stderr
    assert ("options body_model=heavy detector=None dope_post=nms face=mesh hand_mirror=True hand_model=both "
            "model_threads=None") in default.stderr
    chosen = _predict(tmp_path / "a.png", "--out", tmp_path / "out2", "--no-overlay", "--body-model", "full",
                      "--face", "dlib", "--detector", "centernet", "--model-threads", "3", "--hand-model", "lite",
                      "--no-hand-mirror", "--dope-post", "ppi", script=RUN_RECORDING_OPTIONS)
    assert chosen.returncode == 0, chosen.stderr
    assert ("options body_model=full detector=centernet dope_post=ppi face=dlib hand_mirror=False hand_model=lite "
            "model_threads=3") in chosen.stderr
    bad = _predict(tmp_path / "a.png", "--out", tmp_path / "out3", "--body-model", "huge", script=RUN_RECORDING_OPTIONS)
    assert bad.returncode == 2 and "--body-model" in bad.stderr
    no_threads = _predict(tmp_path / "a.png", "--out", tmp_path / "out4", "--model-threads", "0",
                          script=RUN_RECORDING_OPTIONS)
    assert no_threads.returncode == 2 and "--model-threads" in no_threads.stderr
