"""Training speed against the hardware: images/s, FLOPs, MFU, peak memory and host syncs per step.

For ``--arch zoomnet|hrnet133|dope`` one training step (forward, loss, backward, Adam) is timed
on real fixture data replicated to ``--batch``: the COCO-WholeBody fixture crops (top-down
models) or the fixture images with their Eq. 1 labels (DOPE).  Weights are random; the work per
step does not depend on them (DOPE: up to the number of proposals kept by NMS).

* ``fwd_gflops_per_sample``: ``torch.utils.flop_counter.FlopCounterMode`` over one training
  forward (loss included) / batch.
* ``achieved_tflops``: 3 x forward FLOPs (forward + backward, the usual estimate) x images/s.
* ``mfu``: achieved / the device's dense bf16 peak (``PEAK_TFLOPS`` by device name, or
  ``--peak-tflops``); null on a CPU unless ``--peak-tflops`` is given.
* ``host_syncs_per_step``: ``wholebody.train.host_syncs.count_host_syncs`` over one step.
* ``peak_mem_gb``: CUDA: ``max_memory_allocated``; CPU: the process's peak resident memory.

bf16 autocast is on for CUDA devices that support it (``--fp32`` turns it off), off on CPU.
``--compile [MODE]`` times the top-down step with the network under ``torch.compile`` (as ``train
--compile``; the warm-up steps include the compilation); FLOPs are counted on the plain network.

Usage: ``python benchmarks/train_speed.py --arch dope --device cpu --tiny --batch 2 --steps 3 [--json OUT]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import resource
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from wholebody.data.atomic import atomic_write_text
from wholebody.train.host_syncs import count_host_syncs

# ../shared/fixtures beside the repo; WHOLEBODY_FIXTURES points elsewhere (e.g. a copy on a GPU machine)
FIXTURES = Path(os.environ.get("WHOLEBODY_FIXTURES", Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"))
# Dense bf16 tensor-core peak (TFLOP/s) from the vendors' datasheets; fp16 where a GPU has no bf16.
PEAK_TFLOPS = {"H200": 989.0, "H100 PCIe": 756.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0,
               "A10": 125.0, "RTX 4090": 165.0, "V100": 125.0, "T4": 65.0}
log = logging.getLogger("train_speed")


def peak_tflops(device: torch.device, override: float | None) -> float | None:
    """The bf16 peak of ``device``: ``override`` if given, else the table entry its name contains."""
    if override is not None:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_TFLOPS.items() if key in name), None)


def topdown_step(arch: str, tiny: bool, batch: int, device: torch.device, amp: bool,
                 channels_last: bool = False, compile_mode: str | None = None) -> Callable[[], torch.Tensor]:
    """A closure running one training step of ZoomNet / HRNet-133 on replicated fixture crops."""
    from wholebody.models.registry import build_model
    from wholebody.nn.speed import channels_last_input, compile_model, to_channels_last
    from wholebody.train.zoomnet.dataset import TopDownDataset, collate, load_training_set
    from wholebody.train.zoomnet.losses import LOSSES
    from wholebody.train.zoomnet.targets import build_targets, step_inputs
    from wholebody.models.zoomnet.transforms import AugmentConfig

    data = load_training_set(FIXTURES / "coco_wholebody" / "test_coco_wholebody.json", FIXTURES / "coco_wholebody")
    model = build_model(arch, tiny=tiny).to(device).train()
    dataset = TopDownDataset(data, arch, model.config, AugmentConfig.part_jitter_only(0.0), 0)
    crops = collate([dataset[i % len(dataset)] for i in range(batch)])
    images, targets = step_inputs(crops, arch, model.config, device)
    labels = {k: v.to(device) for k, v in crops["labels"].items()}
    if channels_last:
        model = to_channels_last(model)
        images = channels_last_input(images)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-5, fused=device.type == "cuda" or None)  # as train.loop
    loss_fn = LOSSES[arch]
    net = compile_model(model, compile_mode) if compile_mode else model  # as train.loop

    def step() -> torch.Tensor:
        targets = build_targets(arch, labels, model.config)  # as train.loop: inside the step, on the device
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            outputs = net(images, rois=targets["rois"]) if arch == "zoomnet" else net(images)
        loss = loss_fn(outputs, targets)["total"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    step.forward = lambda: loss_fn(model(images, rois=targets["rois"]) if arch == "zoomnet" else model(images), targets)
    return step


def dope_step(tiny: bool, batch: int, device: torch.device, amp: bool,
              channels_last: bool = False) -> Callable[[], torch.Tensor]:
    """A closure running one DOPE training step on the replicated fixture images and their labels."""
    from wholebody.data.adapters.sources import load_source, read_sample_image
    from wholebody.models.dope.network import dope_resnet50, dope_tiny
    from wholebody.models.dope.layout import get_layout
    from wholebody.train.dope.pseudo import PseudoLabels, combine
    from wholebody.train.dope.step import ImageLabels, compute_losses
    from wholebody.train.dope.train import fit_model_anchor_poses

    layout = get_layout("wholebody")
    samples = load_source(f"cocowb={FIXTURES / 'coco_wholebody' / 'test_coco_wholebody.json'}", layout)
    labels = []
    for sample in samples:  # body labelled, the rest as expert labels: every loss term runs
        pseudo = combine(sample, [], layout)
        experts = [dataclasses.replace(inst, score=0.7) for inst in pseudo.ground_truth]
        labels.append(ImageLabels(PseudoLabels(pseudo.ground_truth, experts), frozenset({"body"})))
    images = [torch.from_numpy(np.array(read_sample_image(s))).permute(2, 0, 1).float().div(255).to(device)
              for s in samples]
    model = (dope_tiny() if tiny else dope_resnet50()).to(device).train()
    fit_model_anchor_poses(model, labels)
    if channels_last:  # train dope --channels-last
        model.set_channels_last()
    images = [images[i % len(images)] for i in range(batch)]
    labels = [labels[i % len(labels)] for i in range(batch)]
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-5)

    def step() -> torch.Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = compute_losses(model, images, labels)["total"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    step.forward = lambda: compute_losses(model, images, labels)
    return step


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(arch: str, device: torch.device, tiny: bool, batch: int, steps: int, warmup: int, amp: bool,
            peak_override: float | None = None, channels_last: bool = False, compile_mode: str | None = None) -> dict:
    """The benchmark's JSON record (module docstring)."""
    torch.manual_seed(0)
    step = dope_step(tiny, batch, device, amp, channels_last) if arch == "dope" else \
        topdown_step(arch, tiny, batch, device, amp, channels_last, compile_mode)
    counter = FlopCounterMode(display=False)
    with counter, torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        step.forward()
    fwd_flops = counter.get_total_flops() / batch
    for _ in range(warmup):  # allocator, cuDNN autotuning
        step()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    _sync(device)
    tic = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    images_per_s = steps * batch / (time.perf_counter() - tic)
    syncs, by_op = count_host_syncs(step, device)
    log.info("host syncs in one step by operator: %s", dict(by_op))
    achieved = 3 * fwd_flops * images_per_s / 1e12
    peak = peak_tflops(device, peak_override)
    if device.type == "cuda":
        peak_mem = torch.cuda.max_memory_allocated(device) / 1e9
    else:  # ru_maxrss is in KiB on Linux
        peak_mem = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    return {"arch": arch, "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "batch": batch, "images_per_s": round(images_per_s, 3), "fwd_gflops_per_sample": round(fwd_flops / 1e9, 3),
            "achieved_tflops": round(achieved, 5), "mfu": round(achieved / peak, 5) if peak else None,
            "host_syncs_per_step": syncs, "peak_mem_gb": round(peak_mem, 3)} | (
                {"compile": compile_mode} if compile_mode else {})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=("zoomnet", "hrnet133", "dope"), required=True)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tiny", action="store_true", help="the test-size networks (what a CPU can run)")
    parser.add_argument("--batch", type=int, default=None, help="images per step (default: 8 for DOPE, 64 otherwise)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--fp32", action="store_true", help="no bf16 autocast on CUDA")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's peak, for the MFU")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (torch.set_num_threads)")
    parser.add_argument("--json", default=None, help="also write the record to this file")
    parser.add_argument("--channels-last", action="store_true", help="NHWC memory format "
                        "(train --channels-last)")
    parser.add_argument("--compile", nargs="?", const="default", default=None, metavar="MODE",
                        help="torch.compile the top-down network (train --compile; mode default: %(const)s)")
    parser.add_argument("--cudnn-benchmark", choices=("on", "off"), default=None,
                        help="cuDNN autotuning (default: on for the fixed-shape top-down models, off for DOPE, "
                             "whose RoI count and image sizes change every step, so autotuning would rerun "
                             "on each new shape)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    if not (FIXTURES / "coco_wholebody").is_dir():
        log.error("fixture data not found at %s (../shared/fixtures beside the repository)", FIXTURES)
        return 1
    if args.compile and args.arch == "dope":
        parser.error("--compile applies to zoomnet and hrnet133 (as train --compile)")
    device = torch.device(args.device)
    if device.type == "cuda":
        default = "off" if args.arch == "dope" else "on"
        torch.backends.cudnn.benchmark = (args.cudnn_benchmark or default) == "on"
    amp = device.type == "cuda" and torch.cuda.is_bf16_supported() and not args.fp32
    batch = args.batch or (8 if args.arch == "dope" else 64)
    record = measure(args.arch, device, args.tiny, batch, args.steps, args.warmup, amp, args.peak_tflops,
                     args.channels_last, args.compile)
    text = json.dumps(record)
    print(text)
    if args.json:
        atomic_write_text(args.json, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
