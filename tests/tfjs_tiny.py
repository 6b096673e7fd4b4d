"""Helper for the TF.js tests: writes a tiny hand-made graph model (model.json + 2 shards).

Graph (NHWC):  x[1,6,7,2] -> _FusedConv2D(k float16, b uint8-affine; stride 2 SAME; BiasAdd+Relu)
-> DepthwiseConv2dNative(dw float32; SAME) -> Mean over H,W -> Unpack (4 outputs) ->
``scaled = unpack:2 * (two * three)`` where ``two * three`` depends on constants only.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np


def _attr_list(values):
    return {"list": {"i": [str(v) for v in values]}}


def _s(text):
    return {"s": base64.b64encode(text.encode()).decode()}


def tiny_weights(seed: int = 0) -> dict[str, np.ndarray]:
    """The dequantised weight values the tiny model stores (exactly representable)."""
    rng = np.random.default_rng(seed)
    return {
        "k": rng.normal(size=(3, 3, 2, 4)).astype(np.float16).astype(np.float32),
        "b": (np.array([0, 3, 128, 255], np.uint8) * np.float32(0.01) + np.float32(-1.0)).astype(np.float32),
        "dw": rng.normal(size=(3, 3, 4, 1)).astype(np.float32),
        "axes": np.array([1, 2], np.int32),
        "two": np.array(2.0, np.float32),
        "three": np.array(3.0, np.float32),
    }


def tiny_nodes() -> list[dict]:
    conv_attrs = {"strides": _attr_list([1, 2, 2, 1]), "padding": _s("SAME"), "data_format": _s("NHWC"),
                  "dilations": _attr_list([1, 1, 1, 1]), "T": {"type": "DT_FLOAT"},
                  "fused_ops": {"list": {"s": [_s("BiasAdd")["s"], _s("Relu")["s"]]}}, "num_args": {"i": "1"}}
    dw_attrs = {"strides": _attr_list([1, 1, 1, 1]), "padding": _s("SAME"), "data_format": _s("NHWC")}
    const = {"dtype": {"type": "DT_FLOAT"}}
    return [
        {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"},
                                                     "shape": {"shape": {"dim": [{"size": "1"}, {"size": "-1"}]}}}},
        *({"name": n, "op": "Const", "attr": const} for n in ("k", "b", "dw", "axes", "two", "three")),
        {"name": "conv", "op": "_FusedConv2D", "input": ["x", "k", "b"], "attr": conv_attrs},
        {"name": "depthwise", "op": "DepthwiseConv2dNative", "input": ["conv", "dw", "^x"], "attr": dw_attrs},
        {"name": "mean", "op": "Mean", "input": ["depthwise", "axes"], "attr": {"keep_dims": {"b": False}}},
        {"name": "unpack", "op": "Unpack", "input": ["mean"], "attr": {"num": {"i": "4"}, "axis": {"i": "1"}}},
        {"name": "six", "op": "Mul", "input": ["two", "three"]},
        {"name": "scaled", "op": "Mul", "input": ["unpack:2", "six"]},
    ]


def write_tiny_model(folder: Path, nodes: list[dict] | None = None) -> Path:
    """Write ``tiny.json`` + ``tiny.1.bin`` + ``tiny.2.bin`` into ``folder``; return the json path."""
    weights = tiny_weights()
    entries, blobs = [], []
    for name, value in weights.items():
        entry = {"name": name, "shape": list(value.shape), "dtype": "int32" if value.dtype == np.int32 else "float32"}
        if name == "k":
            entry["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            blobs.append(value.astype("<f2").tobytes())
        elif name == "b":
            entry["quantization"] = {"dtype": "uint8", "scale": 0.01, "min": -1.0, "original_dtype": "float32"}
            blobs.append(np.array([0, 3, 128, 255], np.uint8).tobytes())
        else:
            blobs.append(value.astype("<i4" if value.dtype == np.int32 else "<f4").tobytes())
        entries.append(entry)
    data = b"".join(blobs)
    half = len(data) // 2  # two shards, split mid-weight: the reader must concatenate them
    (folder / "tiny.1.bin").write_bytes(data[:half])
    (folder / "tiny.2.bin").write_bytes(data[half:])
    spec = {
        "format": "graph-model",
        "modelTopology": {"node": nodes if nodes is not None else tiny_nodes(), "versions": {}},
        "weightsManifest": [{"paths": ["tiny.1.bin", "tiny.2.bin"], "weights": entries}],
        "signature": {"inputs": {"x": {"name": "x:0"}},
                      "outputs": {"mean": {"name": "mean:0"}, "scaled": {"name": "scaled:0"}}},
    }
    path = folder / "tiny.json"
    path.write_text(json.dumps(spec))
    return path


def tiny_reference(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The tiny model's outputs computed with numpy from the definitions of the ops."""
    w = tiny_weights()

    def correlate(inp, kernel, stride, depthwise):
        h, wd = inp.shape[1:3]
        out_h, out_w = -(-h // stride), -(-wd // stride)
        pad_h = max((out_h - 1) * stride + 3 - h, 0)
        pad_w = max((out_w - 1) * stride + 3 - wd, 0)
        padded = np.pad(inp, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
        out = np.zeros((1, out_h, out_w, kernel.shape[2] if depthwise else kernel.shape[3]))
        for i in range(out_h):
            for j in range(out_w):
                patch = padded[0, i * stride:i * stride + 3, j * stride:j * stride + 3]
                out[0, i, j] = (np.einsum("hwc,hwc->c", patch, kernel[..., 0]) if depthwise
                                else np.einsum("hwc,hwco->o", patch, kernel))
        return out

    conv = np.maximum(correlate(x, w["k"], 2, False) + w["b"], 0)
    mean = correlate(conv, w["dw"], 1, True).mean(axis=(1, 2))
    return mean, mean[:, 2] * 6.0
