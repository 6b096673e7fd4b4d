"""Parameter count and GFLOPs of ZoomNet and the one-stage HRNet-W32 baseline at 384x288.

FLOPs are counted with ``torch.utils.flop_counter.FlopCounterMode`` on one crop (convolutions
and matrix products; RoIAlign's bilinear sampling, norms and activations are not counted, as in
the usual pose-estimation tables).  Papers' "GFLOPs" for these networks are multiply-accumulates
(the paper's ZoomNet figure is 27.36), so both GMACs and 2x that (true FLOPs) are printed.

Usage: ``python benchmarks/model_size.py [--tiny] [--json OUT]``
"""

from __future__ import annotations

import argparse
import json
import logging

import torch
from torch.utils.flop_counter import FlopCounterMode

from wholebody.models.registry import build_model

log = logging.getLogger("model_size")


def count(model: torch.nn.Module, input_size: tuple[int, int]) -> dict:
    """Parameters and per-crop FLOPs of ``model`` (eval mode, batch 1)."""
    model.eval()
    images = torch.rand(1, 3, *input_size) * 255
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(images)
    flops = counter.get_total_flops()
    by_module = counter.get_flop_counts()
    top = type(model).__name__
    params = sum(p.numel() for p in model.parameters())
    parts = {}
    for name, child in model.named_children():
        n = sum(p.numel() for p in child.parameters())
        if n:
            module_flops = sum(by_module.get(f"{top}.{name}", {}).values())
            parts[name] = {"params": n, "gmacs": module_flops / 2e9}
    return {"params": params, "by_module": parts, "flops": flops, "gmacs": flops / 2e9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="the test-size variants")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {}
    for arch in ("zoomnet", "hrnet133"):
        model = build_model(arch, tiny=args.tiny)
        size = model.config.input_size
        results[arch] = {"input_size": list(size), **count(model, size)}
        r = results[arch]
        print(f"{arch:9s} {size[0]}x{size[1]}: {r['params'] / 1e6:6.2f} M parameters, "
              f"{r['gmacs']:6.2f} GMACs (= paper 'GFLOPs'), {r['flops'] / 1e9:6.2f} GFLOPs (2 x MACs)")
        for name, part in r["by_module"].items():
            print(f"    {name:12s} {part['params'] / 1e6:6.2f} M parameters {part['gmacs']:6.2f} GMACs")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
