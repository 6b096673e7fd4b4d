"""Top-down training data pipeline alone: samples/s through a real DataLoader, before and after.

What it measures, on this machine's CPU (never a GPU figure; every record says ``"device": "cpu"``):

* ``samples_per_s``: batches from a ``torch.utils.data.DataLoader`` with ``--workers`` processes
  over the COCO-WholeBody fixture people replicated (each copy its own augmentation draw), full
  augmentation, the model's full-size config (384x288), timed after the first batch (worker
  start-up left out); ``per_worker`` = that / workers.  The main process only receives batches.
* ``bytes_per_sample``: the tensors of one sample, i.e. what a worker pickles into shared memory
  and what is later pinned and copied to the GPU.
* ``split_ms``: one sample's stages, in this process on one thread: ``decode`` (JPEG -> RGB
  uint8), ``geometry`` (augmentation draw, keypoints to the crop), ``warp`` (bilinear crop; after:
  ``warp_image_uint8``, which converts only the sampled region to float), ``targets`` (before: the CPU heatmaps; after: the labels only) and, after,
  ``device_targets`` (the batched target build of the training step, per sample, run here on the
  CPU: on a GPU it runs inside the step).
* ``workers_per_gpu``: ceil(GPU target img/s / per-worker samples/s) for the README's targets
  (HRNet-133 860 img/s, ZoomNet 290 img/s per GPU), assuming workers on this machine's cores.
* ``draft_candidates``: share of samples whose crop scale (crop pixels per image pixel) is at
  most 1/2, the only ones where decoding the JPEG at reduced size (``Image.draft``) could apply.

``before`` is the frozen old pipeline (``tests/topdown_targets_reference.py``: float32 crop and
CPU heatmaps shipped), ``after`` today's (uint8 crop and labels).  With ``--pipeline both`` the
two run in turns (``--rounds``), and the best round of each is kept (per stage for the split).

Usage: ``OMP_NUM_THREADS=1 python benchmarks/data_speed.py --arch hrnet133 --workers 2 --batch 32
--batches 8 [--json OUT]``
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from wholebody.data.atomic import atomic_write_text
from wholebody.data.images import read_image
from wholebody.models.zoomnet.hrnet133 import HRNet133Config
from wholebody.models.zoomnet.network import ZoomNetConfig
from wholebody.models.zoomnet.transforms import AugmentConfig, sample_geometry, transform_keypoints, transform_part_valid, warp_image, warp_image_uint8
from wholebody.train.zoomnet.dataset import TopDownDataset, TrainingSet, collate, load_training_set
from wholebody.train.zoomnet.labels import hrnet133_labels, zoomnet_labels
from wholebody.train.zoomnet.targets import build_targets

FIXTURES = Path(os.environ.get("WHOLEBODY_FIXTURES", Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"))
TESTS = Path(__file__).resolve().parents[1] / "tests"
CONFIGS = {"zoomnet": ZoomNetConfig, "hrnet133": HRNet133Config}
GPU_TARGETS = {"hrnet133": 860.0, "zoomnet": 290.0}  # img/s per GPU (README "GPU figures", issue 15)

sys.path.insert(0, str(TESTS))
import topdown_targets_reference as reference  # noqa: E402  (the frozen "before" lives in tests/)


def replicated_dataset(arch: str, copies: int) -> TopDownDataset:
    """The fixture people ``copies`` times over; the per-index seed gives each copy its own draw."""
    folder = FIXTURES / "coco_wholebody"
    data = load_training_set(folder / "test_coco_wholebody.json", folder)
    data = TrainingSet(data.gt, np.tile(data.rows, copies), data.images_dir)
    return TopDownDataset(data, arch, CONFIGS[arch](), AugmentConfig(), seed=0)


def sample_bytes(sample: dict) -> int:
    tensors = [sample["image"], *sample.get("labels", sample.get("targets", {})).values(), sample["meta"]["matrix"]]
    return int(sum(t.nbytes for t in tensors))


def loader_rate(dataset, workers: int, batch: int, batches: int) -> float:
    """Samples/s of a DataLoader over ``batch * batches`` samples, timed after the first batch."""
    collate_fn = collate if isinstance(dataset, TopDownDataset) else reference.reference_collate
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, sampler=range(batch * batches),
                                         collate_fn=collate_fn, num_workers=workers)
    count, start = 0, None
    for batch_data in loader:
        if start is None:
            start = time.perf_counter()
        else:
            count += batch_data["size"]
    return count / (time.perf_counter() - start)


def stage_times(dataset: TopDownDataset, indices, pipeline: str) -> dict[str, float]:
    """Milliseconds per sample of each stage (one thread, this process)."""
    totals = dict.fromkeys(("decode", "geometry", "warp", "targets"), 0.0)
    gt, config, augment = dataset.data.gt, dataset.config, dataset.augment
    input_size = tuple(config.input_size)
    labels_list = []
    for index in indices:
        row = int(dataset.data.rows[index])
        t0 = time.perf_counter()
        image = read_image(dataset.data.image_path(row))
        t1 = time.perf_counter()
        rng = np.random.default_rng([dataset.seed, dataset.epoch, index])
        geometry = sample_geometry(gt.bbox[row], gt.keypoints[row], input_size, augment, rng)
        keypoints = transform_keypoints(gt.keypoints[row], geometry)
        valid = transform_part_valid({p: bool(f[row]) for p, f in gt.part_valid.items()}, geometry.flip)
        t2 = time.perf_counter()
        if pipeline == "before":
            reference.zoomnet_targets(keypoints, valid, input_size, config.part_crop, config.roi_enlarge,
                                      config.min_roi_size, rng, augment.roi_jitter_shift, augment.roi_jitter_scale) \
                if dataset.architecture == "zoomnet" else reference.hrnet133_targets(keypoints, valid, input_size)
        else:
            labels_list.append(zoomnet_labels(keypoints, valid, input_size, config.roi_enlarge, config.min_roi_size, rng,
                                              augment.roi_jitter_shift, augment.roi_jitter_scale)
                               if dataset.architecture == "zoomnet" else hrnet133_labels(keypoints, valid))
        t3 = time.perf_counter()
        if pipeline == "after":
            warp_image_uint8(image, geometry.matrix, input_size)
        else:
            warp_image(image, geometry.matrix, input_size)
        t4 = time.perf_counter()
        for key, seconds in zip(totals, (t1 - t0, t2 - t1, t4 - t3, t3 - t2)):
            totals[key] += seconds
    split = {k: 1000 * v / len(indices) for k, v in totals.items()}
    if pipeline == "after":  # the step's batched build, here on the CPU
        labels = {k: torch.stack([s[k] for s in labels_list]) for k in labels_list[0]}
        build_targets(dataset.architecture, labels, config)
        t0 = time.perf_counter()
        build_targets(dataset.architecture, labels, config)
        split["device_targets_on_cpu"] = 1000 * (time.perf_counter() - t0) / len(indices)
    return split


def draft_candidates(dataset: TopDownDataset, indices) -> float:
    """Share of samples with crop scale <= 1/2 (a JPEG decoded at 1/2 size could then serve)."""
    gt, input_size = dataset.data.gt, tuple(dataset.config.input_size)
    small = 0
    for index in indices:
        row = int(dataset.data.rows[index])
        rng = np.random.default_rng([dataset.seed, dataset.epoch, index])
        matrix = sample_geometry(gt.bbox[row], gt.keypoints[row], input_size, dataset.augment, rng).matrix
        small += math.sqrt(abs(np.linalg.det(matrix[:, :2]))) <= 0.5
    return small / len(indices)


def measure(args) -> dict:
    torch.set_num_threads(1)
    copies = math.ceil(args.batch * args.batches / 12)
    dataset = replicated_dataset(args.arch, copies)
    old = reference.ReferenceDataset(dataset)
    pipelines = ["before", "after"] if args.pipeline == "both" else [args.pipeline]
    rates: dict[str, list[float]] = {p: [] for p in pipelines}
    splits: dict[str, list[dict]] = {p: [] for p in pipelines}
    indices = range(min(len(dataset), 48))
    for pipeline in pipelines:  # warm-up: file cache, lazy imports, allocator
        stage_times(dataset, indices[:4], pipeline)
    for round_index in range(args.rounds):  # in turns: a busy neighbour slows both alike
        for pipeline in pipelines:
            rate = loader_rate(old if pipeline == "before" else dataset, args.workers, args.batch, args.batches)
            rates[pipeline].append(rate)
            splits[pipeline].append(stage_times(dataset, indices, pipeline))
            logging.info("round %d %s: %.1f samples/s with %d workers; one sample on one thread: %s ms", round_index,
                         pipeline, rate, args.workers, {k: round(v, 2) for k, v in splits[pipeline][-1].items()})
    record = {"arch": args.arch, "device": "cpu",
              "note": "CPU figures of this machine (DataLoader workers, one thread each); no GPU was involved",
              "cpu": platform.processor() or platform.machine(),
              "cpu_count": os.cpu_count(), "threads_per_worker": 1, "workers": args.workers, "batch": args.batch,
              "batches": args.batches, "rounds": args.rounds, "input_size": list(dataset.config.input_size),
              "gpu_target_images_per_s": GPU_TARGETS[args.arch],
              "draft_candidates": draft_candidates(dataset, indices), "pipelines": {}}
    for pipeline in pipelines:
        best = max(rates[pipeline])
        per_worker = best / max(args.workers, 1)
        sample = reference.reference_sample(dataset, 0) if pipeline == "before" else dataset[0]
        record["pipelines"][pipeline] = {
            "samples_per_s": best, "rounds_samples_per_s": rates[pipeline], "per_worker": per_worker,
            "bytes_per_sample": sample_bytes(sample),
            "split_ms": {k: min(split[k] for split in splits[pipeline]) for k in splits[pipeline][0]},  # best round
            "workers_per_gpu": {arch: math.ceil(target / per_worker) for arch, target in GPU_TARGETS.items()
                                if arch == args.arch},
        }
    return record


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="hrnet133", choices=sorted(CONFIGS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=8, help="timed batches + 1 (the first is start-up)")
    parser.add_argument("--rounds", type=int, default=2, help="turns of each pipeline")
    parser.add_argument("--pipeline", default="both", choices=("both", "before", "after"))
    parser.add_argument("--json", help="write the record here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not (FIXTURES / "coco_wholebody").is_dir():
        logging.error("fixtures not found at %s (set WHOLEBODY_FIXTURES)", FIXTURES)
        return 1
    if args.batches < 2 or args.batch < 1 or args.workers < 0 or args.rounds < 1:
        logging.error("need --batches >= 2, --batch >= 1, --workers >= 0, --rounds >= 1")
        return 1
    record = measure(args)
    text = json.dumps(record, indent=1)
    print(text)
    if args.json:
        atomic_write_text(args.json, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
