"""Check the torch TF.js executor against TensorFlow itself on the prepared detector graphs.

TensorFlow is not a project dependency; make a throwaway environment first:

    python -m venv /tmp/tfref && /tmp/tfref/bin/pip install "tensorflow-cpu==2.15.1" "numpy<2"
    python benchmarks/tfjs_vs_tensorflow.py --tf-python /tmp/tfref/bin/python

The TF side rebuilds a GraphDef from each model.json with plain ops (the fused convolutions are
split into Conv2D/DepthwiseConv2dNative + BiasAdd + activation, so TF's own fused kernels are
not assumed), fills the Const nodes with the de-quantised weights and runs it on the same
fixture images.  Printed: max absolute difference per output.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from wholebody.experts.runtime.models import model_file
from wholebody.experts.runtime.tfjs_graph import GraphModel, read_weights

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "coco"
CASES = [  # model, input name, outputs, image, (width, height), dtype
    ("centernet", "tower_0/images", ["tower_0/wh", "tower_0/keypoints", "tower_0/detections"],
     "000000197388.jpg", (512, 512), np.float32),
    ("movenet-multipose", "input", ["Identity"], "000000197388.jpg", (320, 224), np.int32),
    ("movenet-multipose", "input", ["Identity"], "000000000785.jpg", (256, 192), np.int32),
]

TF_SIDE = r'''
import base64, json, sys
import numpy as np, tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.framework import graph_pb2
work = sys.argv[1]
for case in json.load(open(f"{work}/cases.json")):
    spec = json.load(open(case["json"]))
    weights = dict(np.load(f"{work}/{case['id']}_weights.npz"))
    nodes = []
    for node in spec["modelTopology"]["node"]:
        if node["op"] == "Const":
            value = weights[node["name"].replace("/", "|")]
            node = dict(node, attr=dict(node["attr"]))
            node["attr"]["value"] = {"tensor": json_format.MessageToDict(tf.make_tensor_proto(value))}
            node["attr"]["dtype"] = {"type": tf.as_dtype(value.dtype).as_datatype_enum}
        elif node["op"] in ("_FusedConv2D", "FusedDepthwiseConv2dNative"):
            fused = [base64.b64decode(s).decode() for s in node["attr"]["fused_ops"]["list"]["s"]]
            base = "Conv2D" if node["op"] == "_FusedConv2D" else "DepthwiseConv2dNative"
            keep = {k: v for k, v in node["attr"].items() if k in ("strides", "padding", "dilations", "data_format", "T")}
            name, inputs, dtype = node["name"], node["input"], {"T": node["attr"]["T"]}
            nodes.append({"name": name + "/conv", "op": base, "input": inputs[:2], "attr": keep})
            last = name if len(fused) == 1 else name + "/bias"
            nodes.append({"name": last, "op": "BiasAdd", "input": [name + "/conv", inputs[2]], "attr": dtype})
            if len(fused) == 2:
                nodes.append({"name": name, "op": fused[1], "input": [last], "attr": dtype})
            continue
        nodes.append(node)
    graph_def = json_format.ParseDict({"node": nodes}, graph_pb2.GraphDef())
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        got = session.run([o + ":0" for o in case["outputs"]], {case["input"] + ":0": np.load(f"{work}/{case['id']}_x.npy")})
    np.savez(f"{work}/{case['id']}_tf.npz", *got)
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tf-python", required=True, help="python of an environment with tensorflow-cpu")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        cases, ours = [], {}
        for number, (model, input_name, outputs, image, (w, h), dtype) in enumerate(CASES):
            path = model_file(model)
            weights = read_weights(path, json.loads(path.read_text())["weightsManifest"])
            np.savez(f"{work}/{number}_weights.npz", **{k.replace("/", "|"): v for k, v in weights.items()})
            x = np.asarray(Image.open(FIXTURES / image).convert("RGB").resize((w, h)), dtype=dtype)[None]
            np.save(f"{work}/{number}_x.npy", x)
            with torch.inference_mode():
                ours[number] = [t.numpy() for t in GraphModel.load(path).run({input_name: torch.from_numpy(x)}, outputs)]
            cases.append({"id": number, "json": str(path), "input": input_name, "outputs": outputs})
        Path(work, "cases.json").write_text(json.dumps(cases))
        Path(work, "tf_side.py").write_text(TF_SIDE)
        subprocess.run([args.tf_python, f"{work}/tf_side.py", work], check=True)
        for number, (model, _, outputs, image, size, _) in enumerate(CASES):
            reference = np.load(f"{work}/{number}_tf.npz")
            for k, name in enumerate(outputs):
                want = reference[f"arr_{k}"]
                error = float(np.abs(ours[number][k] - want).max())
                print(f"{model:18s} {image} {size[0]}x{size[1]} {name:20s} max |torch - TF| = {error:.2e}"
                      f"  (output magnitude {float(np.abs(want).max()):.3g})")


if __name__ == "__main__":
    main()
