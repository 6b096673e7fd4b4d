"""Inference latency of ZoomNet / HRNet-133 under the speed options of ``wholebody.nn.speed``.

Variants: ``plain`` (eval mode), ``fused`` (conv + BN folded), ``fused+cl`` (plus channels-last),
``bf16`` (fused, channels-last, bf16 autocast) and, with ``--compile``, ``compiled`` (fused,
channels-last, ``torch.compile``; ``--compile reduce-overhead`` = CUDA graphs, CUDA only).
Random weights (the timing does not depend on them), random crops, the median of ``--repeats``
timed runs after ``--warmup`` untimed ones (wall and process CPU time); on CUDA every run is
synchronised.  Also reports the
largest heatmap difference of each variant against ``plain``.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/topdown_speed_options.py --arch hrnet133 --batch 1 [--device cuda]
        [--compile [MODE]] [--repeats 5] [--json OUT]
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import statistics
import time

import torch

from wholebody.models.registry import build_model
from wholebody.nn.speed import channels_last_input, compile_model, fuse_conv_bn, to_channels_last

log = logging.getLogger("topdown_speed_options")


def heatmaps(outputs: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([v.float().flatten() for k, v in outputs.items() if k not in ("rois", "box_scores")])


def time_variant(model, images, rois, amp: bool, repeats: int, warmup: int) -> tuple[float, float, torch.Tensor]:
    """Median wall seconds and median CPU seconds of this process per forward, and the last
    output's heatmaps.  On a shared CPU the CPU time is the figure that other jobs do not inflate."""
    device = images.device
    walls, cpus = [], []
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        for i in range(warmup + repeats):
            tic, cpu_tic = time.perf_counter(), time.process_time()
            out = model(images, rois=rois) if rois is not None else model(images)
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i >= warmup:
                walls.append(time.perf_counter() - tic)
                cpus.append(time.process_time() - cpu_tic)
    return statistics.median(walls), statistics.median(cpus), heatmaps(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=("zoomnet", "hrnet133"), default="hrnet133")
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--compile", nargs="?", const="default", default=None)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    torch.manual_seed(0)
    device = torch.device(args.device)
    plain = build_model(args.arch, tiny=args.tiny).to(device).eval()
    size = tuple(plain.config.input_size)
    images = torch.rand(args.batch, 3, *size, device=device) * 255
    # ZoomNet: fixed part RoIs, so every variant crops the same places whatever its heatmaps say.
    rois = torch.tensor([[[100.0, 20, 190, 110], [20, 180, 90, 250], [200, 180, 270, 250]]], device=device) \
        .repeat(args.batch, 1, 1) if args.arch == "zoomnet" else None
    fused = fuse_conv_bn(copy.deepcopy(plain))
    fused_cl = to_channels_last(copy.deepcopy(fused))
    variants = [("plain", plain, images, False), ("fused", fused, images, False),
                ("fused+cl", fused_cl, channels_last_input(images), False),
                ("bf16", fused_cl, channels_last_input(images), True)]
    if args.compile:
        variants.append(("compiled", compile_model(fused_cl, args.compile), channels_last_input(images), False))
    results, reference = {}, None
    for name, model, inputs, amp in variants:
        seconds, cpu_seconds, out = time_variant(model, inputs, rois, amp, args.repeats, args.warmup)
        reference = out if reference is None else reference
        diff = float((out - reference).abs().max())
        results[name] = {"ms": seconds * 1e3, "ms_per_crop": seconds * 1e3 / args.batch,
                         "cpu_ms": cpu_seconds * 1e3, "max_abs_diff": diff}
        log.info("%-9s wall %8.1f ms (%.1f per crop)  process CPU %8.1f ms  max |heatmap - plain| %.2e", name,
                 seconds * 1e3, seconds * 1e3 / args.batch, cpu_seconds * 1e3, diff)
    record = {"arch": args.arch, "tiny": args.tiny, "device": str(device), "batch": args.batch,
              "input_size": list(size), "threads": torch.get_num_threads(), "variants": results}
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(record, handle, indent=2)


if __name__ == "__main__":
    main()
