"""Inference latency of ZoomNet / HRNet-133 under the speed options of ``wholebody.nn.speed``.

Variants (``--variants``, comma-separated; weights / what is called / precision):

* ``plain``, ``fused`` (conv + BN folded), ``fused+cl`` (plus channels-last), ``bf16`` (fused,
  channels-last, bf16 autocast): the network on fixed part RoIs for ZoomNet (every variant crops
  the same places whatever its heatmaps say);
* ``decode``, ``decode+bf16``: ZoomNet's whole inference, RoIs decoded inside (``rois=None``);
* ``flip-2pass``, ``flip-1pass``, ``flip-1pass+bf16``: the flip-test prediction, as two forwards
  (plain then mirrored, ``tests/flip_test_reference.py``) or one batched pass
  (``models.zoomnet.flip_test.HeatmapPredictor``);
* ``compiled``, ``compiled+bf16``, ``compiled-decode``, ``compiled-decode+bf16``,
  ``compiled-flip+bf16``: the same under ``torch.compile(mode=--compile)`` (fused, channels-last;
  ``+bf16`` compiles under bf16 autocast; ``reduce-overhead`` = CUDA graphs, CUDA only).

Without ``--variants``: the eager ones, plus ``compiled`` and ``compiled+bf16`` with ``--compile``.
Random weights (the timing does not depend on them), random crops.  Eager variants are timed in
turns (one run of each per round, ``--repeats`` rounds after ``--warmup``), so a busy machine slows
them alike; compiled ones one after the other (compile time reported apart).  Per variant: median
wall and process-CPU ms, aten operators (CPU profiler) and, on CUDA, kernels and launch calls per
forward, host syncs (``train.host_syncs``), graph breaks (compiled), and the largest heatmap
difference against the plain fp32 eager network doing the same thing.

``--cudnn-benchmark on`` (the default; issue 15's figures were measured with it on) turns cuDNN
autotuning on: crops have a fixed size, so each shape is tuned once, during the warm-up.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/topdown_speed_options.py --arch zoomnet --batch 1 [--device cuda]
        [--variants flip-2pass,flip-1pass] [--compile [MODE]] [--cudnn-benchmark on|off] [--repeats 5] [--json OUT]
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from wholebody.models.registry import build_model
from wholebody.models.zoomnet.flip_test import HeatmapPredictor
from wholebody.nn.speed import channels_last_input, compile_model, fuse_conv_bn, to_channels_last
from wholebody.train.host_syncs import count_host_syncs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from flip_test_reference import predict_heatmaps_two_passes  # noqa: E402  (the frozen two-pass flip test)

log = logging.getLogger("topdown_speed_options")

# name: (weights, call, bf16 autocast, compiled); call: "fixed" (given RoIs), "decode", "flip1", "flip2"
VARIANTS = {
    "plain": ("plain", "fixed", False, False), "fused": ("fused", "fixed", False, False),
    "fused+cl": ("fused+cl", "fixed", False, False), "bf16": ("fused+cl", "fixed", True, False),
    "decode": ("fused+cl", "decode", False, False), "decode+bf16": ("fused+cl", "decode", True, False),
    "flip-2pass": ("fused+cl", "flip2", False, False), "flip-1pass": ("fused+cl", "flip1", False, False),
    "flip-1pass+bf16": ("fused+cl", "flip1", True, False),
    "compiled": ("fused+cl", "fixed", False, True), "compiled+bf16": ("fused+cl", "fixed", True, True),
    "compiled-decode": ("fused+cl", "decode", False, True),
    "compiled-decode+bf16": ("fused+cl", "decode", True, True),
    "compiled-flip+bf16": ("fused+cl", "flip1", True, True),
}
EAGER_DEFAULT = ["plain", "fused", "fused+cl", "bf16", "decode", "flip-2pass", "flip-1pass"]


def heatmaps(outputs: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([v.float().flatten() for k, v in outputs.items() if k not in ("rois", "box_scores")])


def make_call(model, call: str, rois, compile_mode: str | None):
    """A function images -> output dict for one variant (compiled when ``compile_mode``)."""
    if call == "flip1":
        module = HeatmapPredictor(model, flip_test=True)
        module = compile_model(module, compile_mode) if compile_mode else module
        return lambda images: module(images)
    if call == "flip2":
        return lambda images: predict_heatmaps_two_passes(model, images)
    module = compile_model(model, compile_mode) if compile_mode else model
    if call == "fixed" and rois is not None:
        return lambda images: module(images, rois=rois)
    return lambda images: module(images)


class Variant:
    def __init__(self, name: str, run, images: torch.Tensor, amp: bool, compiled: bool) -> None:
        self.name, self.run, self.images, self.amp, self.compiled = name, run, images, amp, compiled
        self.walls: list[float] = []
        self.cpus: list[float] = []
        self.compile_s: float | None = None

    def once(self, record: bool = True) -> dict[str, torch.Tensor]:
        device = self.images.device
        if self.compiled and device.type == "cuda":
            torch.compiler.cudagraph_mark_step_begin()  # each call is a new inference step
        tic, cpu_tic = time.perf_counter(), time.process_time()
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.amp):
            out = self.run(self.images)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if record:
            self.walls.append(time.perf_counter() - tic)
            self.cpus.append(time.process_time() - cpu_tic)
        return out

    def profile(self, batch: int) -> dict:
        device = self.images.device
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        with profile(activities=activities) as prof:
            self.once(record=False)
        events = prof.events()
        ops = sum(e.name.startswith("aten::") for e in events)
        report = {"aten_ops": ops, "aten_ops_per_crop": ops / batch, "cuda_kernels": None, "launch_calls": None}
        if device.type == "cuda":
            report["cuda_kernels"] = sum(len(getattr(e, "kernels", ())) for e in events)
            report["launch_calls"] = sum(e.name in ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC",
                                                    "cudaGraphLaunch") for e in events)
        report["host_syncs"] = count_host_syncs(lambda: self.once(record=False), device)[0]
        return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=("zoomnet", "hrnet133"), default="hrnet133")
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--variants", help=f"comma-separated, of: {', '.join(VARIANTS)}")
    parser.add_argument("--compile", nargs="?", const="default", default=None, help="torch.compile mode")
    parser.add_argument("--cudnn-benchmark", choices=("on", "off"), default="on")
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    names = args.variants.split(",") if args.variants else \
        EAGER_DEFAULT + (["compiled", "compiled+bf16"] if args.compile else [])
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    if args.arch == "hrnet133":  # no RoIs: "decode" is the plain forward
        names = [n for n in names if "decode" not in n]
    torch.backends.cudnn.benchmark = args.cudnn_benchmark == "on"

    torch.manual_seed(0)
    device = torch.device(args.device)
    models = {"plain": build_model(args.arch, tiny=args.tiny).to(device).eval()}
    models["fused"] = fuse_conv_bn(copy.deepcopy(models["plain"]))
    models["fused+cl"] = to_channels_last(copy.deepcopy(models["fused"]))
    size = tuple(models["plain"].config.input_size)
    images = torch.rand(args.batch, 3, *size, device=device) * 255
    rois = torch.tensor([[[100.0, 20, 190, 110], [20, 180, 90, 250], [200, 180, 270, 250]]], device=device) \
        .repeat(args.batch, 1, 1) * (size[1] / 288) if args.arch == "zoomnet" else None
    variants = []
    for name in names:
        weights, call, amp, compiled = VARIANTS[name]
        inputs = channels_last_input(images) if weights == "fused+cl" else images
        run = make_call(models[weights], call, rois, (args.compile or "default") if compiled else None)
        variants.append(Variant(name, run, inputs, amp, compiled))
    references = {}  # call -> heatmaps of the plain fp32 eager network
    for call in {VARIANTS[n][1] for n in names}:
        references[call] = heatmaps(Variant("reference", make_call(models["plain"], call, rois, None), images,
                                            False, False).once(record=False))

    eager = [v for v in variants if not v.compiled]
    for variant in eager:
        for _ in range(args.warmup):
            variant.once(record=False)
    for _ in range(args.repeats):  # in turns
        for variant in eager:
            variant.once()
    breaks = {}
    for variant in (v for v in variants if v.compiled):
        before = sum(torch._dynamo.utils.counters["graph_break"].values())
        tic = time.perf_counter()
        variant.once(record=False)
        variant.compile_s = time.perf_counter() - tic
        for _ in range(args.warmup):
            variant.once(record=False)
        for _ in range(args.repeats):
            variant.once()
        breaks[variant.name] = sum(torch._dynamo.utils.counters["graph_break"].values()) - before

    results = {}
    for variant in variants:
        weights, call, amp, _ = VARIANTS[variant.name]
        out = heatmaps(variant.once(record=False))
        wall, cpu = statistics.median(variant.walls), statistics.median(variant.cpus)
        results[variant.name] = {"ms": wall * 1e3, "ms_per_crop": wall * 1e3 / args.batch, "cpu_ms": cpu * 1e3,
                                 "max_abs_diff": float((out - references[call]).abs().max()),
                                 "compile_s": variant.compile_s, "graph_breaks": breaks.get(variant.name)}
        r = results[variant.name]
        log.info("%-20s wall %8.2f ms (%.2f per crop)  CPU %8.1f ms  max |diff| %.2e%s", variant.name, r["ms"],
                 r["ms_per_crop"], r["cpu_ms"], r["max_abs_diff"],
                 f"  compile {variant.compile_s:.1f} s, graph breaks {breaks[variant.name]}" if variant.compiled else "")
    for variant in variants:  # after every timing: a profiler failure must not lose them
        r = results[variant.name]
        try:
            r.update(variant.profile(args.batch))
        except Exception as err:  # noqa: BLE001  (reported in the JSON, the timings stand)
            r["profile_error"] = repr(err)
            log.warning("%s: profiling failed: %r", variant.name, err)
            continue
        log.info("%-20s aten ops %6d (%.0f per crop)  CUDA kernels %s  launch calls %s  host syncs %d", variant.name,
                 r["aten_ops"], r["aten_ops_per_crop"], r["cuda_kernels"], r["launch_calls"], r["host_syncs"])
    record = {"arch": args.arch, "tiny": args.tiny, "device": str(device), "batch": args.batch,
              "input_size": list(size), "threads": torch.get_num_threads(), "cudnn_benchmark": args.cudnn_benchmark,
              "compile_mode": args.compile, "variants": results}
    if device.type == "cuda":
        record["device_name"] = torch.cuda.get_device_name(device)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(record, handle, indent=2)


if __name__ == "__main__":
    main()
