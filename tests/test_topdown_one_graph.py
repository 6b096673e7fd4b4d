"""Top-down inference ready for ONE CUDA graph, checked on the CPU with torch.compile's tracer.

``torch.compile(mode="reduce-overhead")`` records a CUDA graph per captured graph: a graph break
(a host sync such as ``.item()``, a data-dependent shape, untraceable Python) splits the
inference into several graphs with eager code between them, and a host tensor that enters the
graph from outside the module (a global index list, say) makes inductor skip CUDA graphs
altogether.  So: ZoomNet's whole inference (RoIs decoded inside) and the flip-test prediction of
both networks must trace as one graph (``fullgraph=True``) whose only tensor inputs are the crops
and the module's own parameters and buffers.  The "eager" backend needs no compiler.
"""

from __future__ import annotations

import pytest
import torch

from wholebody.models.registry import build_model
from wholebody.models.zoomnet.flip_test import HeatmapPredictor

torch.set_num_threads(1)
SIZE = (64, 48)


class RecordingBackend:
    """A dynamo backend that runs the graph eagerly and keeps each graph's example inputs."""

    def __init__(self) -> None:
        self.graph_inputs: list[list] = []

    def __call__(self, graph_module, example_inputs):
        self.graph_inputs.append(list(example_inputs))
        return graph_module.forward


def captured_inputs(module: torch.nn.Module, images: torch.Tensor, bf16: bool = False) -> list[list]:
    """Compile ``module`` with fullgraph=True (a graph break raises), run it once on ``images``;
    the tensor inputs of each captured graph."""
    torch._dynamo.reset()
    backend = RecordingBackend()
    compiled = torch.compile(module, backend=backend, fullgraph=True, dynamic=False)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        compiled(images)
    torch._dynamo.reset()
    return [[x for x in inputs if isinstance(x, torch.Tensor)] for inputs in backend.graph_inputs]


def foreign_inputs(module: torch.nn.Module, images: torch.Tensor, inputs: list[torch.Tensor]) -> list[tuple]:
    """Graph inputs that are neither ``images`` nor a parameter/buffer of ``module``."""
    own = {t.data_ptr() for t in [*module.parameters(), *module.buffers()]} | {images.data_ptr()}
    return [(tuple(t.shape), t.dtype) for t in inputs if t.data_ptr() not in own]


CASES = {
    "zoomnet forward, RoIs decoded inside": lambda: build_model("zoomnet", tiny=True, input_size=SIZE),
    "zoomnet flip test": lambda: HeatmapPredictor(build_model("zoomnet", tiny=True, input_size=SIZE)),
    "zoomnet flip test, bf16 autocast": lambda: HeatmapPredictor(build_model("zoomnet", tiny=True, input_size=SIZE)),
    "hrnet133 flip test": lambda: HeatmapPredictor(build_model("hrnet133", tiny=True, input_size=SIZE)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_inference_traces_as_one_graph_of_device_tensors(case):
    module = CASES[case]().eval()
    images = torch.rand(1, 3, *SIZE) * 255
    graphs = captured_inputs(module, images, bf16="bf16" in case)
    assert len(graphs) == 1, f"{case}: {len(graphs)} graphs"
    assert foreign_inputs(module, images, graphs[0]) == [], case
