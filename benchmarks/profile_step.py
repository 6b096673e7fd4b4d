"""Where one training step's time goes: torch.profiler tables for ``benchmarks/train_speed.py``'s step.

Builds the same step as ``train_speed`` (fixture data replicated to ``--batch``), runs
``--warmup`` steps, then profiles ``--steps`` steps and prints the operators by self device time
(CUDA) and by self CPU time, plus the number of kernel launches per step.

    python benchmarks/profile_step.py --arch dope --device cuda --batch 8 [--fp32] [--rows 25]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_speed import dope_step, topdown_step  # noqa: E402  (the benchmark's own step builders)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=("zoomnet", "hrnet133", "dope"), required=True)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--fp32", action="store_true")
    parser.add_argument("--rows", type=int, default=25)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
    amp = cuda and not args.fp32
    batch = args.batch or (8 if args.arch == "dope" else 64)
    torch.manual_seed(0)
    step = dope_step(args.tiny, batch, device, amp) if args.arch == "dope" else \
        topdown_step(args.arch, args.tiny, batch, device, amp)
    for _ in range(args.warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
    tic = time.perf_counter()
    for _ in range(args.steps):
        step()
    if cuda:
        torch.cuda.synchronize()
    print(f"{args.arch} batch {batch} amp={amp}: {(time.perf_counter() - tic) / args.steps * 1e3:.1f} ms/step unprofiled")
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        for _ in range(args.steps):
            step()
        if cuda:
            torch.cuda.synchronize()
    events = prof.key_averages()
    if cuda:
        kernels = sum(e.count for e in events if e.device_type == torch.autograd.DeviceType.CUDA)
        print(f"device kernels per step: {kernels / args.steps:.0f}")
        print(events.table(sort_by="self_cuda_time_total", row_limit=args.rows, max_name_column_width=60))
    print(events.table(sort_by="self_cpu_time_total", row_limit=args.rows, max_name_column_width=60))
    return 0


if __name__ == "__main__":
    sys.exit(main())
