"""A small executor of TF.js graph models (``model.json`` + ``*.bin`` shards) in plain torch.

A TF.js graph model is a frozen TensorFlow GraphDef written as JSON (``modelTopology.node``)
plus little-endian weight shards described by ``weightsManifest``.  Every ``Const`` node's value
lives in the shards, possibly quantised (float16, or affine uint8/uint16).  This module parses
both, checks that every op is implemented (``tfjs_ops.OPS``) and runs the nodes in topological
order.  Sub-graphs that depend only on constants are evaluated once and cached.

Because the executor is a ``torch.nn.Module`` made of torch ops, the same graph runs on CPU or
GPU and can be exported to ONNX by tracing (fixed input size).
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from wholebody.experts.runtime.tfjs_ops import OPS

log = logging.getLogger(__name__)

# weight dtype in a shard -> (numpy dtype, bytes per value)
_SHARD_DTYPES = {
    "float32": ("<f4", 4), "int32": ("<i4", 4), "bool": ("u1", 1),
    "float16": ("<f2", 2), "uint8": ("u1", 1), "uint16": ("<u2", 2),
}


@dataclass
class Node:
    """One GraphDef node: inputs are (producer name, output index); attrs are decoded."""

    name: str
    op: str
    inputs: list[tuple[str, int]]
    attrs: dict
    cache: dict = field(default_factory=dict)


def _decode_attr(value: dict):
    """GraphDef JSON attribute -> Python value (ints come as strings, strings as base64)."""
    if "list" in value:
        items = value["list"]
        for key in ("i", "f", "s", "b", "type"):
            if key in items:
                return [_decode_attr({key: v}) for v in items[key]]
        return []
    if "i" in value:
        return int(value["i"])
    if "f" in value:
        return float(value["f"])
    if "b" in value:
        return bool(value["b"])
    if "s" in value:
        return base64.b64decode(value["s"]).decode("utf-8", "replace")
    if "type" in value:
        return value["type"]
    if "shape" in value:
        return [int(d.get("size", -1)) for d in value["shape"].get("dim", [])]
    return value  # tensors and other rarely used kinds stay raw


def _parse_input(text: str) -> tuple[str, int] | None:
    """'node', 'node:1' -> (name, index); control inputs '^node' carry no data -> None."""
    if text.startswith("^"):
        return None
    name, _, index = text.partition(":")
    return name, int(index) if index else 0


def read_weights(model_json: Path, manifest: list[dict]) -> dict[str, np.ndarray]:
    """Read and de-quantise every weight of ``weightsManifest``; names are Const node names."""
    weights: dict[str, np.ndarray] = {}
    for group_no, group in enumerate(manifest):
        shard_paths = [model_json.parent / p for p in group["paths"]]
        for path in shard_paths:
            if not path.is_file():
                raise FileNotFoundError(f"{model_json}: weight shard {path} (weightsManifest[{group_no}]) is missing")
        buffer = b"".join(p.read_bytes() for p in shard_paths)
        offset = 0
        for entry in group["weights"]:
            shape = [int(d) for d in entry["shape"]]
            count = int(np.prod(shape, dtype=np.int64))
            quant = entry.get("quantization")
            stored = quant["dtype"] if quant else entry["dtype"]
            if stored not in _SHARD_DTYPES:
                raise ValueError(f"{model_json}: weight {entry['name']!r} has unsupported dtype {stored!r}")
            np_dtype, size = _SHARD_DTYPES[stored]
            nbytes = count * size
            if offset + nbytes > len(buffer):
                raise ValueError(f"{model_json}: shards of weightsManifest[{group_no}] end before weight "
                                 f"{entry['name']!r} ({len(buffer)} bytes, need {offset + nbytes})")
            raw = np.frombuffer(buffer, dtype=np_dtype, count=count, offset=offset)
            offset += nbytes
            weights[entry["name"]] = _dequantise(raw, entry, quant).reshape(shape)
    return weights


def _dequantise(raw: np.ndarray, entry: dict, quant: dict | None) -> np.ndarray:
    if quant is None:
        return raw.astype(bool) if entry["dtype"] == "bool" else raw.copy()
    if quant["dtype"] == "float16":
        values = raw.astype(np.float32)
    else:  # affine: value = q * scale + min
        values = raw.astype(np.float32) * np.float32(quant["scale"]) + np.float32(quant["min"])
    if entry["dtype"] == "int32":
        return np.round(values).astype(np.int32)
    return values


class GraphModel(torch.nn.Module):
    """An executable TF.js graph.  ``run`` takes NHWC tensors by placeholder name."""

    def __init__(self, nodes: list[Node], constants: dict[str, torch.Tensor], signature: dict, source: str):
        super().__init__()
        self.source = source
        self.nodes = {n.name: n for n in nodes}
        self.constants = constants
        self.input_names = [_parse_input(v["name"])[0] for v in signature.get("inputs", {}).values()] or \
            [n.name for n in nodes if n.op == "Placeholder"]
        self.output_names = [v["name"] for v in signature.get("outputs", {}).values()]
        self._const_nodes = self._constant_closure()
        self._plans: dict[tuple[str, ...], list[Node]] = {}

    @classmethod
    def load(cls, model_json: str | Path, device: str | torch.device = "cpu") -> GraphModel:
        """Parse ``model.json`` and its shards; raise on unknown ops, naming the op and node."""
        model_json = Path(model_json)
        if not model_json.is_file():
            raise FileNotFoundError(f"TF.js model file {model_json} does not exist")
        try:
            spec = json.loads(model_json.read_text())
            raw_nodes = spec["modelTopology"]["node"]
            manifest = spec["weightsManifest"]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise ValueError(f"{model_json}: not a TF.js graph model ({err!r})") from err
        nodes = []
        for raw in raw_nodes:
            op = raw["op"]
            if op not in OPS and op not in ("Const", "Placeholder", "NoOp"):
                raise NotImplementedError(f"{model_json}: node {raw['name']!r} uses op {op!r}, "
                                          "which the TF.js executor does not implement")
            inputs = [p for p in map(_parse_input, raw.get("input", [])) if p is not None]
            attrs = {k: _decode_attr(v) for k, v in raw.get("attr", {}).items() if k != "value"}
            nodes.append(Node(raw["name"], op, inputs, attrs))
        weights = read_weights(model_json, manifest)
        constants = {}
        for node in nodes:
            if node.op == "Const":
                if node.name not in weights:
                    raise ValueError(f"{model_json}: Const node {node.name!r} has no entry in weightsManifest")
                constants[node.name] = torch.from_numpy(weights[node.name]).to(device)
        log.debug("loaded %s: %d nodes, %d constants", model_json, len(nodes), len(constants))
        return cls(nodes, constants, spec.get("signature", {}), str(model_json))

    def ops(self) -> dict[str, int]:
        """Op type -> number of nodes (for reports and checks)."""
        counts: dict[str, int] = {}
        for node in self.nodes.values():
            counts[node.op] = counts.get(node.op, 0) + 1
        return counts

    def _constant_closure(self) -> set[str]:
        """Nodes whose value never depends on a placeholder (evaluated once, then cached)."""
        const: set[str] = set()
        for node in self._topological(list(self.nodes)):
            if node.op == "Const" or (node.op not in ("Placeholder",) and node.inputs
                                      and all(name in const for name, _ in node.inputs)):
                const.add(node.name)
        return const

    def _topological(self, targets: list[str]) -> list[Node]:
        """The nodes needed for ``targets``, producers first (iterative DFS: graphs are deep)."""
        order, state = [], {}
        for target in targets:
            stack = [(target, False)]
            while stack:
                name, expanded = stack.pop()
                if name not in self.nodes:
                    raise KeyError(f"{self.source}: graph has no node {name!r}")
                if expanded:
                    if state.get(name) != "done":
                        state[name] = "done"
                        order.append(self.nodes[name])
                    continue
                if state.get(name):
                    continue
                state[name] = "open"
                stack.append((name, True))
                stack.extend((src, False) for src, _ in self.nodes[name].inputs if not state.get(src))
        return order

    def run(self, feeds: dict[str, torch.Tensor], outputs: list[str] | None = None) -> list[torch.Tensor]:
        """Evaluate ``outputs`` ('name' or 'name:k'; default: the signature outputs)."""
        wanted = [_parse_input(o) for o in (outputs or self.output_names)]
        key = tuple(name for name, _ in wanted)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._topological(list(key))
        values: dict[str, tuple] = {}
        for node in plan:
            if node.name in self.constants:
                values[node.name] = (self.constants[node.name],)
            elif node.op == "Placeholder":
                if node.name not in feeds:
                    raise KeyError(f"{self.source}: no value fed for input {node.name!r}")
                values[node.name] = (feeds[node.name],)
            else:
                args = [values[src][index] for src, index in node.inputs]
                result = OPS[node.op](node, args)
                values[node.name] = result if isinstance(result, tuple) else (result,)
                if node.name in self._const_nodes and len(values[node.name]) == 1:
                    self.constants[node.name] = values[node.name][0]
        return [values[name][index] for name, index in wanted]

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Positional inputs in ``input_names`` order -> signature outputs (for ONNX export)."""
        return tuple(self.run(dict(zip(self.input_names, inputs))))
