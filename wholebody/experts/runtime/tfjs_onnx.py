"""The fast CPU path for TF.js graphs: ONNX files exported from the torch executor, run by onnxruntime.

onnxruntime runs the MoveNet and CenterNet graphs about 1.5x faster than the torch executor on
one CPU thread (benchmarks/person_detector.py).  The export traces ``GraphModel`` at a fixed
input size: shape arithmetic inside the graphs (MoveNet's decoder) becomes constants, so one
ONNX file serves one input height x width (the batch axis can stay dynamic for purely
convolutional outputs).  Export is part of ``wholebody models prepare``, never run time.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from wholebody.experts.runtime.tfjs_graph import GraphModel

log = logging.getLogger(__name__)


def onnxruntime_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


class _SelectedOutputs(torch.nn.Module):
    """One placeholder in, chosen graph outputs out: the module that gets traced."""

    def __init__(self, graph: GraphModel, input_name: str, outputs: list[str]):
        super().__init__()
        self.graph, self.input_name, self.outputs = graph, input_name, outputs

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.graph.run({self.input_name: x}, self.outputs))


class OnnxRunner:
    """An onnxruntime session with one input; ``run`` maps a numpy array to the output arrays."""

    def __init__(self, path: str | Path, num_threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if num_threads is not None:
            options.intra_op_num_threads = num_threads
            options.inter_op_num_threads = 1
            # Idle onnxruntime threads spin by default and steal the cores from the TFLite models
            # that run between its calls: one person at 640x480 on 2 threads took 143 ms
            # spinning, 83 ms not (2-core machine).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        return self.session.run(None, {self.input_name: x})


def export_onnx(graph: GraphModel, input_name: str, outputs: list[str], example: torch.Tensor,
                path: str | Path, dynamic_batch: bool = False, tolerance: float = 1e-4) -> Path:
    """Trace ``graph`` on ``example`` (NHWC) to ONNX at ``path``, then check it with onnxruntime.

    The file is written under a temporary name and renamed only when every output agrees with
    the torch executor within ``tolerance`` times the output's largest magnitude (at least 1),
    so a bad export never replaces a good file.  Returns the path.
    """
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    module = _SelectedOutputs(graph, input_name, outputs).eval()
    names = [f"output_{i}" for i in range(len(outputs))]
    axes = {name: {0: "batch"} for name in ["input", *names]} if dynamic_batch else None
    with torch.inference_mode():
        expected = [t.numpy() for t in module(example)]
    with warnings.catch_warnings():  # tracing warns about every shape turned into a constant
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), str(partial), dynamo=False, opset_version=17,
                          input_names=["input"], output_names=names, dynamic_axes=axes)
    try:
        got = OnnxRunner(partial).run(example.numpy())
        for name, a, b in zip(outputs, got, expected):
            error = float(np.abs(a - b).max(initial=0)) if a.shape == b.shape else math.inf
            if error > tolerance * max(1.0, float(np.abs(b).max(initial=0))):
                raise RuntimeError(f"ONNX export of {graph.source} output {name!r} disagrees with the torch "
                                   f"executor (shape {a.shape} vs {b.shape}, max error {error:.3g})")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    log.info("exported %s (%s) to %s", graph.source, ", ".join(outputs), path)
    return path
