"""Training-data sources named on the command line: ``KIND=PATH[,PATH...]``.

Kinds: ``cocowb=ann.json`` (images next to the file), ``h36m=file.npz``,
``h36m_coco=ann.json,cameras.pkl``, ``h3wb=file.npz``, ``rhd=ann.json``, ``300w=ann.json``,
``images=folder_or_file[,more]`` (unlabelled images and videos).  Also: reading a sample's image
(a still or one video frame) as an RGB uint8 array.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wholebody.data.adapters.sample import Sample
from wholebody.data.errors import ImageError
from wholebody.models.dope.layout import DopeLayout

SOURCE_KINDS = ("cocowb", "h36m", "h36m_coco", "h3wb", "rhd", "300w", "images")


def parse_source(spec: str) -> tuple[str, list[str]]:
    """``"kind=a,b"`` -> ("kind", ["a", "b"]); a clear error for anything else."""
    kind, sep, paths = spec.partition("=")
    if not sep or kind not in SOURCE_KINDS or not paths:
        raise ValueError(f"bad data source {spec!r}: expected KIND=PATH with KIND one of {', '.join(SOURCE_KINDS)}")
    return kind, paths.split(",")


def load_source(spec: str, layout: str | DopeLayout = "wholebody", errors: list[str] | None = None) -> list[Sample]:
    """Samples of one source (``errors``: bad records are logged and listed there instead of raised)."""
    kind, paths = parse_source(spec)
    if kind == "cocowb":
        from wholebody.data.adapters.cocowb import load_cocowb

        return load_cocowb(paths[0], layout, errors=errors)
    if kind == "h36m":
        from wholebody.data.adapters.h36m import load_h36m_npz

        return load_h36m_npz(paths[0], layout, errors=errors)
    if kind == "h36m_coco":
        from wholebody.data.adapters.h36m import load_h36m_coco

        if len(paths) != 2:
            raise ValueError(f"bad data source {spec!r}: h36m_coco needs ANNOTATIONS.json,CAMERAS.pkl")
        return load_h36m_coco(paths[0], paths[1], layout, errors=errors)
    if kind == "h3wb":
        from wholebody.data.adapters.h3wb import load_h3wb

        return load_h3wb(paths[0], layout)
    if kind == "rhd":
        from wholebody.data.adapters.rhd import load_rhd

        return load_rhd(paths[0], layout, errors=errors)
    if kind == "300w":
        from wholebody.data.adapters.face300w import load_300w

        return load_300w(paths[0], layout, errors=errors)
    from wholebody.data.adapters.folder import load_unlabelled

    return load_unlabelled(paths)


def read_sample_image(sample: Sample) -> np.ndarray:
    """The (H, W, 3) uint8 RGB image of a sample; raises ``ImageError`` naming the path."""
    if sample.image_path is None:
        raise ImageError("<none>", f"sample {sample.record} has no image")
    if sample.frame_index is None:
        from wholebody.data.images import read_image

        return read_image(sample.image_path)
    import cv2

    capture = cv2.VideoCapture(str(sample.image_path))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, sample.frame_index)
        ok, frame = capture.read()
    finally:
        capture.release()
    if not ok or frame is None:
        raise ImageError(Path(sample.image_path), f"cannot decode frame {sample.frame_index}")
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
