"""Export a ZoomNet / HRNet-133 checkpoint to ONNX (dynamic number of person crops).

The graph takes (N, 3, H, W) RGB crops in 0..255 and returns the heatmaps (and ZoomNet's part
RoIs); decode them with wholebody.models.zoomnet.decode.heatmaps_to_keypoints.  With --check the ONNX
Runtime output is compared with PyTorch's on random crops.
Exit status: 0 on success, 1 when the checkpoint cannot be used or the check fails.
"""

from __future__ import annotations

import argparse
import sys

from wholebody.data.errors import WholebodyError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="CKPT", help="checkpoint written by `wholebody train`")
    parser.add_argument("--onnx", required=True, metavar="OUT.onnx", help="output file")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (>= 16 for GridSample; default 17)")
    parser.add_argument("--check", action="store_true", help="compare ONNX Runtime with PyTorch after export")


def max_difference(model, onnx_path: str, batch: int = 3) -> float:
    """Largest absolute difference between ONNX Runtime and PyTorch outputs on random crops."""
    import numpy as np
    import onnxruntime
    import torch

    from wholebody.models.zoomnet.export import OUTPUT_NAMES

    height, width = model.config.input_size
    images = torch.rand(batch, 3, height, width, generator=torch.Generator().manual_seed(0)) * 255
    session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    got = session.run(None, {"images": images.numpy()})
    with torch.no_grad():
        want = model.eval()(images)
    return max(float(np.abs(g - want[name].numpy()).max()) for g, name in zip(got, OUTPUT_NAMES[model.architecture]))


def run(args: argparse.Namespace) -> int:
    from wholebody.data.atomic import atomic_path
    from wholebody.data.errors import OutputError
    from wholebody.models.zoomnet.export import export_onnx
    from wholebody.models.checkpoints import load_checkpoint, load_model

    try:
        is_dope = load_checkpoint(args.model).get("architecture") == "dope"
    except WholebodyError as err:
        print(f"wholebody export: {err}", file=sys.stderr)
        return 1
    if is_dope:
        from wholebody.cli.export_dope import run_dope_export

        return run_dope_export(args)

    try:
        model = load_model(args.model)
    except WholebodyError as err:
        print(f"wholebody export: {err}", file=sys.stderr)
        return 1
    try:
        with atomic_path(args.onnx) as partial:  # a failed or interrupted export leaves no half file
            names = export_onnx(model, partial, opset=args.opset)
    except OutputError as err:
        print(f"wholebody export: {err}", file=sys.stderr)
        return 1
    print(f"wrote {args.onnx}: {model.architecture}, input images (N, 3, {model.config.input_size[0]}, "
          f"{model.config.input_size[1]}) RGB 0..255, outputs {', '.join(names)}")
    if args.check:
        diff = max_difference(model, args.onnx)
        print(f"ONNX Runtime vs PyTorch: max abs difference {diff:.2e}")
        if diff > 1e-3:
            return 1
    return 0
