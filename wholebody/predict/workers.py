"""``wholebody predict --workers N``: N estimator processes over the inputs, one set of outputs.

The work items are cut into N contiguous shards, in order (shard sizes differ by at most one
item; a video is one item, so shards holding long videos take longer).  Each shard runs the
ordinary :class:`~wholebody.predict.runner.PredictRun` in its own process (``spawn``: no
model or thread state is inherited) and writes into a hidden folder ``DIR/.shards-<pid>/<k>``.
When every shard is done, the parent merges them into ``DIR`` so that the result is the one
a single process would have written:

* image ids: ``--coco`` ids are kept; the ids a run assigns in processing order (1, 2, ... above
  the largest fixed id, one per image and per video frame) are renumbered shard after shard, so
  they follow the same order as in one process;
* ``results.json``, ``results_3d.json`` and ``images.json`` are concatenated in shard order;
* overlays, 3D plots and OpenPose files are moved into place (their names do not depend on ids).

A whole video stays in one shard, so its tracking and smoothing are unchanged.  Failures are
reported by the parent, shard after shard, once each shard is done.  If the run fails or is
interrupted, the shard folders are deleted and earlier outputs in ``DIR`` are left as they were.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Sequence

import orjson

from wholebody.data.results import JsonListWriter, open_results_3d
from wholebody.predict.outdir import FILE_FOLDERS, OutputManifest
from wholebody.predict.plan import WorkItem
from wholebody.predict.runner import RunOptions, RunSummary

JSON_OUTPUTS = ("results.json", "results_3d.json", "images.json")


@dataclass(frozen=True)
class OutputSettings:
    """What the outputs of one run hold (the CLI flags of the same names)."""

    overlay: bool = True
    plot3d: bool = False
    score_thr: float = 0.3
    output_format: str = "coco"


@dataclass
class ShardResult:
    """What one shard process hands back: its counts and the failures to report, in order."""

    summary: RunSummary
    reports: list[tuple[str, str]] = field(default_factory=list)
    write_failures: list[str] = field(default_factory=list)


def shard(items: Sequence[WorkItem], count: int) -> list[list[WorkItem]]:
    """``items`` cut into at most ``count`` contiguous, non-empty runs whose sizes differ by at most one."""
    count = max(1, min(count, len(items)))
    size, extra = divmod(len(items), count)
    shards, start = [], 0
    for k in range(count):
        stop = start + size + (k < extra)
        shards.append(list(items[start:stop]))
        start = stop
    return [s for s in shards if s]


def _run_shard(items: list[WorkItem], factory: Callable[[], Callable], out_dir: str, options: RunOptions,
               settings: OutputSettings) -> ShardResult:
    """One shard, in a worker process: the ordinary run loop into ``out_dir``."""
    from concurrent.futures import ThreadPoolExecutor

    from wholebody.predict.background import BackgroundTasks
    from wholebody.predict.outputs import PredictionOutputs
    from wholebody.predict.runner import PredictRun

    result = ShardResult(RunSummary())

    def write_failed(label: str, err: BaseException) -> None:
        result.reports.append((label, f"write failed: {type(err).__name__}: {err}"))
        result.write_failures.append(label)

    with ThreadPoolExecutor(options.threads, thread_name_prefix="write") as pool:
        tasks = BackgroundTasks(pool, 2 * options.threads, write_failed)
        extra = []
        if settings.output_format == "openpose":
            from wholebody.predict.openpose import OpenPoseWriter

            extra.append(OpenPoseWriter(out_dir, tasks))
        outputs = PredictionOutputs(out_dir, tasks, overlay=settings.overlay, plot3d=settings.plot3d,
                                    score_thr=settings.score_thr, extra_writers=extra)
        runner = PredictRun(factory, outputs, options, lambda where, why: result.reports.append((where, why)))
        try:
            result.summary = runner.run(items)
            outputs.close()
        except BaseException:
            outputs.abort()
            raise
    return result


def _renumber(image_id, fixed_max: int, offset: int):
    """The one-process id of a shard's ``image_id`` (module docstring); fixed ids stay."""
    if image_id is None or image_id <= fixed_max:
        return image_id
    return image_id + offset


def _fixed_max(items: Sequence[WorkItem]) -> int:
    return max((item.image_id for item in items if item.image_id is not None), default=0)


def _move_files(source: Path, target: Path) -> list[Path]:
    """Move every file under ``source`` except the JSON outputs to the same place under ``target``."""
    moved = []
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.is_file() and relative.as_posix() not in JSON_OUTPUTS:
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, destination)
            moved.append(destination)
    return moved


def merge_shards(shard_dirs: Sequence[Path], shards: Sequence[Sequence[WorkItem]], out_dir: Path,
                 manifest: OutputManifest | None = None) -> None:
    """Write the one-process outputs into ``out_dir`` from the shards' folders (module docstring).

    With a ``manifest``, the moved overlays and plots become this run's files and those of
    earlier runs are removed, as in a one-process run.
    """
    base = max(_fixed_max(items) for items in shards)
    loaded = [{name: orjson.loads((folder / name).read_bytes()) for name in JSON_OUTPUTS} for folder in shard_dirs]
    with (JsonListWriter(out_dir / "results.json") as results, open_results_3d(out_dir / "results_3d.json") as people_3d,
          JsonListWriter(out_dir / "images.json") as images):
        offset = base  # sequential ids used so far, above the largest fixed id
        for items, data in zip(shards, loaded):
            fixed_max = _fixed_max(items)
            shift = offset - fixed_max
            for record in data["results.json"]:
                results.append(record | {"image_id": _renumber(record["image_id"], fixed_max, shift)})
            for record in data["results_3d.json"]["people"]:
                people_3d.append(record | {"image_id": _renumber(record["image_id"], fixed_max, shift)})
            used = fixed_max
            for record in data["images.json"]:
                used = max(used, record["id"] if record.get("id") is not None else 0)
                images.append(record | {"id": _renumber(record.get("id"), fixed_max, shift)})
            offset += used - fixed_max
    moved = [path for folder in shard_dirs for path in _move_files(folder, out_dir)]
    if manifest is not None:
        ours = [path for path in moved if path.relative_to(out_dir).parts[0] in FILE_FOLDERS]
        manifest.expect(ours)
        for path in ours:
            manifest.wrote(path)
        manifest.finish()


def run_sharded(items: Sequence[WorkItem], workers: int, factory: Callable[[], Callable], out_dir: str | Path,
                options: RunOptions, settings: OutputSettings,
                report: Callable[[str, str], None],
                manifest: OutputManifest | None = None) -> tuple[RunSummary, list[str]]:
    """Run ``items`` on ``workers`` processes and merge (module docstring).

    ``factory`` builds the estimator in each process, so it must pickle (a module-level
    function, class or ``functools.partial`` of one).  Returns the summed counts and the labels
    of failed background writes.  Raises what a shard raised (e.g. ``EstimatorUnavailable``).
    """
    out_dir = Path(out_dir)
    shards = shard(items, workers)
    if not shards:
        shards = [[]]
    scratch = out_dir / f".shards-{os.getpid()}"
    shard_dirs = [scratch / str(k) for k in range(len(shards))]
    total, write_failures = RunSummary(), []
    try:
        with ProcessPoolExecutor(len(shards), mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(_run_shard, items_k, factory, str(folder), options, settings)
                       for items_k, folder in zip(shards, shard_dirs)]
            for future in futures:
                result = future.result()
                for where, why in result.reports:
                    report(where, why)
                _add(total, result.summary)
                write_failures += result.write_failures
        merge_shards(shard_dirs, shards, out_dir, manifest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return total, write_failures


def _add(total: RunSummary, part: RunSummary) -> None:
    total.images += part.images
    total.videos += part.videos
    total.frames += part.frames
    total.people += part.people
    for name, reason in part.failed.items():
        total.failed.setdefault(name, reason)
