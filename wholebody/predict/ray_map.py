"""Prediction as a Ray Data map, for clusters (the optional ``[ray]`` extra; Ray is imported by the caller).

:class:`RayPredictor` is a callable class for ``Dataset.map_batches``: Ray builds one per actor,
so each worker process loads the estimator once and keeps it for every batch it is given::

    import ray
    from wholebody.predict.ray_map import RayPredictor, results_in_predict_order

    ray.init()                                   # or ray.init(address="auto") on a cluster
    images = ray.data.read_images("s3://bucket/photos", include_paths=True, mode="RGB")
    people = images.map_batches(RayPredictor, batch_size=8, concurrency=16, num_cpus=2,
                                fn_constructor_kwargs={"model_threads": 2})
    people.write_json("s3://bucket/wholebody")   # one row per image: path, people (JSON text)
    # or, for a local folder, the same results.json as ``wholebody predict FOLDER``:
    results = results_in_predict_order(people.take_all(), "photos")

Each output row holds ``path`` and ``people``: the image's ``results.json`` records (see
:func:`wholebody.data.results.person_to_result`; ``file_name`` = ``path``, ``image_id`` 0) as a
JSON string, so rows of any number of people keep one schema.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import orjson

from wholebody.data.results import person_to_result


class RayPredictor:
    """One estimator per Ray actor; ``__call__`` maps a numpy batch ``{"image", "path"}`` to ``{"path", "people"}``.

    Args:
        estimator_factory: builds the estimator (picklable); None: the default part-expert
            ensemble, ``wholebody.experts.WholeBodyEstimator(**estimator_options)``.
        estimator_options: e.g. ``model_threads=2`` (its ``num_threads``), ``detector``, ``face``.
    """

    def __init__(self, estimator_factory: Callable[[], Callable] | None = None, **estimator_options) -> None:
        if estimator_factory is not None:
            self.estimator = estimator_factory()
            return
        from wholebody.experts import WholeBodyEstimator

        if "model_threads" in estimator_options:
            estimator_options["num_threads"] = estimator_options.pop("model_threads")
        self.estimator = WholeBodyEstimator(**estimator_options)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        paths, people = [], []
        for image, path in zip(batch["image"], batch["path"]):
            image = np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
            records = [person_to_result(person, 0, file_name=str(path)) for person in self.estimator(image)]
            paths.append(str(path))
            people.append(orjson.dumps(records, option=orjson.OPT_SERIALIZE_NUMPY).decode())
        return {"path": np.array(paths, dtype=object), "people": np.array(people, dtype=object)}


def results_in_predict_order(rows: Iterable[dict], folder: str | os.PathLike) -> list[dict]:
    """The ``results.json`` list that ``wholebody predict FOLDER`` writes, from the rows of a
    :class:`RayPredictor` map over the images of ``folder``: the same image order and ids
    (1, 2, ... in predict's file order) and ``file_name`` relative to ``folder``.

    Raises:
        KeyError: a row whose path is not one of predict's inputs in ``folder``.
    """
    from wholebody.predict.plan import plan_from_inputs

    items = [item for item in plan_from_inputs([folder]) if item.source.kind == "image"]
    order = {Path(item.source.path).resolve(): (number, item.source.name) for number, item in enumerate(items, 1)}
    by_image = {}
    for row in rows:
        path = Path(str(row["path"]))
        resolved = path.resolve() if path.is_absolute() else (Path.cwd() / path).resolve()
        if resolved not in order:
            raise KeyError(f"{row['path']}: not an image that `wholebody predict {folder}` would process")
        by_image[order[resolved]] = orjson.loads(row["people"])
    results = []
    for (image_id, name), records in sorted(by_image.items()):
        results += [record | {"image_id": image_id, "file_name": name} for record in records]
    return results
