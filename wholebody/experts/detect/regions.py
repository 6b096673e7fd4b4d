"""Search regions for whole-image SSD detectors, and loading a detector model with a clear error.

A region is an upright ``SquareCrop``: the whole image letterboxed into a square (black bars
where the image is not square), or an overlapping tile of it for small parts.  Detections
decoded in the region's [0, 1] input units map back to original pixels through the crop.
"""

from __future__ import annotations

import numpy as np

from wholebody.experts.crops import SquareCrop
from wholebody.experts.runtime.models import PREPARE_COMMAND, ModelNotPreparedError
from wholebody.experts.runtime.tflite import TFLiteModel, model_path


def load_detector(name: str, num_threads: int) -> TFLiteModel:
    """The bundled TFLite detector ``name``, or ``ModelNotPreparedError`` naming its file.

    A missing or damaged model file (truncated, wrong format) would otherwise surface as an
    interpreter traceback deep inside a run; here it is one message with the file and the fix.
    """
    try:
        return TFLiteModel(name, num_threads=num_threads)
    except ModuleNotFoundError:
        raise
    except (OSError, ValueError, RuntimeError) as err:
        try:
            where = str(model_path(name))
        except (OSError, KeyError):
            where = name
        raise ModelNotPreparedError(
            f"detector model {where} is missing or damaged ({type(err).__name__}: {err}); reinstall "
            f"'mediapipe==0.10.14' (its wheel ships this file) and run `{PREPARE_COMMAND}`") from err


def letterbox_region(height: int, width: int, size: int) -> SquareCrop:
    """The whole image as one square region of side max(H, W), centred, resampled to ``size``."""
    return SquareCrop((width / 2.0, height / 2.0), float(max(height, width)), 0.0, size)


def tile_regions(height: int, width: int, size: int, tile_fraction: float = 0.6) -> list[SquareCrop]:
    """Overlapping square tiles of side ``tile_fraction`` x the shorter image side, covering the image.

    Tiles are spaced so that neighbours overlap by at least a third of a tile (a part cut by
    one tile's edge lies whole inside its neighbour).  A tile under 8 pixels is no tile.
    """
    side = tile_fraction * min(height, width)
    if side < 8:
        return []
    return [SquareCrop((float(cx), float(cy)), side, 0.0, size)
            for cy in _centres(height, side) for cx in _centres(width, side)]


def _centres(length: float, side: float) -> np.ndarray:
    """Tile centres along one axis: first and last tile flush with the edges, overlap >= side / 3."""
    if side >= length:
        return np.array([length / 2.0])
    count = int(np.ceil((length - side) / (side * 2.0 / 3.0))) + 1
    return np.linspace(side / 2.0, length - side / 2.0, count)
