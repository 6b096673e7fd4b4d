"""DOPE training loop on the fixtures: checkpoint/resume continuity, bad images, refused checkpoints, inference."""

import json
import shutil

import pytest
import torch

from wholebody.models.dope.infer import DopeEstimator
from wholebody.models.checkpoints import CheckpointError, save_checkpoint
from wholebody.models.dope.network import load_dope
from wholebody.train.dope.train import DopeTrainConfig, train_dope
from wholebody.types import Person


def _config(sources, out, **extra):
    settings = dict(tiny=True, epochs=5, batch_size=2, lr=1e-3, warmup_steps=1, rois_per_image=32, min_size=96,
                    max_size=128, checkpoint_every=1000, log_every=1, threads=1, cache_images=True,
                    teacher_cache=str(out / "no_teacher.json"))
    settings.update(extra)
    return DopeTrainConfig(sources, str(out), **settings)


@pytest.fixture(scope="module")
def sources(fixtures_dir, tmp_path_factory):
    """Two RHD images (one hand each) plus a 300W face: three images, two batches per epoch."""
    root = tmp_path_factory.mktemp("data")
    rhd = json.loads((fixtures_dir / "rhd" / "test_rhd.json").read_text())
    rhd["images"], rhd["annotations"] = rhd["images"][:2], rhd["annotations"][:2]
    for image in rhd["images"]:
        shutil.copy(fixtures_dir / "rhd" / image["file_name"], root / image["file_name"])
    (root / "rhd.json").write_text(json.dumps(rhd))
    return [f"rhd={root / 'rhd.json'}", f"300w={fixtures_dir / '300w' / 'test_300w.json'}"]


def test_resume_continues_exactly(sources, tmp_path):
    torch.manual_seed(0)
    straight = train_dope(_config(sources[:1], tmp_path / "a", max_steps=3))
    torch.manual_seed(0)
    first = train_dope(_config(sources[:1], tmp_path / "b", max_steps=2))
    resumed = train_dope(_config(sources[:1], tmp_path / "b", max_steps=3, resume=str(tmp_path / "b" / "last.pt")))
    assert straight.steps == 3 and first.steps == 2 and resumed.steps == 3
    assert resumed.losses[0] == pytest.approx(straight.losses[2], rel=1e-5)
    a, b = load_dope(tmp_path / "a" / "last.pt").state_dict(), load_dope(tmp_path / "b" / "last.pt").state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert b["hand_anchor_poses"].abs().sum() > 0  # anchor poses fitted and saved
    log = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["summary"]["steps"] == 3 and "total" in log[0]


def test_unreadable_image_is_skipped_and_counted(sources, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    rhd_json = sources[0].split("=", 1)[1]
    data = json.loads(open(rhd_json).read())
    (broken / data["images"][0]["file_name"]).write_bytes(b"not a png")
    shutil.copy(rhd_json.replace("rhd.json", data["images"][1]["file_name"]), broken)
    (broken / "rhd.json").write_text(json.dumps(data))
    result = train_dope(_config([f"rhd={broken / 'rhd.json'}"], tmp_path / "out", max_steps=2))
    assert result.steps == 2 and len(result.skipped) >= 1 and data["images"][0]["file_name"] in result.skipped[0]
    assert json.loads((tmp_path / "out" / "log.jsonl").read_text().splitlines()[-1])["summary"]["skipped"] >= 1


def test_foreign_or_broken_checkpoints_are_refused(tmp_path):
    save_checkpoint(tmp_path / "zoom.pt", {"architecture": "zoomnet", "config": {}, "model": {}})
    with pytest.raises(CheckpointError, match="zoomnet"):
        load_dope(tmp_path / "zoom.pt")
    (tmp_path / "torn.pt").write_bytes(b"\x80\x02garbage")
    with pytest.raises(CheckpointError):
        load_dope(tmp_path / "torn.pt")
    save_checkpoint(tmp_path / "odd.pt", {"architecture": "dope", "config": {"backbone": "tiny", "width": 8}, "model": {}})
    with pytest.raises(CheckpointError, match="DOPE config"):
        load_dope(tmp_path / "odd.pt")


def test_trained_model_runs_end_to_end(sources, tmp_path, fixtures_dir):
    train_dope(_config(sources, tmp_path, max_steps=1))
    estimator = DopeEstimator(load_dope(tmp_path / "last.pt"), method="ppi",
                              part_kwargs={p: {"th_detect": 0.0} for p in ("body", "hand", "face")})
    from wholebody.data.images import read_image

    people = estimator(read_image(fixtures_dir / "rhd" / "00111.png"))
    assert people, "with th_detect 0 every selected proposal is a person: an empty list means decoding broke"
    assert all(isinstance(p, Person) and p.keypoints.shape == (133, 3) for p in people)
    assert people == sorted(people, key=lambda p: -p.score)
