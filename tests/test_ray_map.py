"""The Ray Data map (``[ray]`` extra), in Ray's local mode on 2 CPUs: the same results as ``predict``."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import orjson
import pytest
from PIL import Image

from wholebody.predict.plan import plan_from_inputs
from wholebody.predict.ray_map import RayPredictor, results_in_predict_order
from wholebody.predict.runner import RunOptions
from wholebody.predict.workers import OutputSettings, _run_shard

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
from fake_estimator import FakeEstimator  # noqa: E402


def _folder(root: Path) -> Path:
    root.mkdir()
    rng = np.random.default_rng(5)
    for k in range(6):
        image = np.zeros((120, 160, 3), np.uint8)
        for _ in range(k % 3):
            x, y = rng.integers(0, 120), rng.integers(0, 40)
            image[y:y + 70, x:x + 30] = 255
        (root / ("sub" if k % 2 else "")).mkdir(exist_ok=True)
        Image.fromarray(image).save(root / ("sub" if k % 2 else "") / f"img{k}.png")
    return root


def _predict_results(folder: Path, out: Path) -> list[dict]:
    _run_shard(plan_from_inputs([folder]), FakeEstimator, str(out), RunOptions(threads=1),
               OutputSettings(overlay=False))
    return orjson.loads((out / "results.json").read_bytes())


def test_predictor_batches_give_predict_results_without_ray(tmp_path):
    folder = _folder(tmp_path / "in")
    predictor = RayPredictor(FakeEstimator)
    paths = sorted(str(p) for p in folder.rglob("*.png"))[::-1]  # any order: ids follow predict's
    images = np.empty(len(paths), dtype=object)
    images[:] = [np.asarray(Image.open(p)) for p in paths]
    rows = predictor({"image": images, "path": np.array(paths)})
    rows = [{"path": path, "people": people} for path, people in zip(rows["path"], rows["people"])]
    assert results_in_predict_order(rows, folder) == _predict_results(folder, tmp_path / "out")
    with pytest.raises(KeyError, match="not an image"):
        results_in_predict_order([{"path": str(tmp_path / "elsewhere.png"), "people": "[]"}], folder)


@pytest.mark.slow
def test_ray_local_mode_on_two_cpus_matches_predict(tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed (the [ray] extra)")
    pytest.importorskip("ray.data", reason="ray is installed without ray.data (install ray[data])")
    folder = _folder(tmp_path / "in")
    root = str(Path(__file__).resolve().parents[1])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": f"{root}:{TESTS}", "OMP_NUM_THREADS": "1"}})
    try:
        dataset = ray.data.read_images(str(folder), include_paths=True, mode="RGB")
        mapped = dataset.map_batches(RayPredictor, batch_size=2, concurrency=2, num_cpus=0.5, batch_format="numpy",
                                     fn_constructor_kwargs={"estimator_factory": FakeEstimator})
        rows = mapped.take_all()
    finally:
        ray.shutdown()
    assert len(rows) == 6
    assert results_in_predict_order(rows, folder) == _predict_results(folder, tmp_path / "out")
