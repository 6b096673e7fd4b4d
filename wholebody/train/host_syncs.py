"""Counting the points where the host waits for the device, from a profiled run of a function.

A training step that reads a device value on the host (``.item()``, ``if tensor:``, a boolean
mask, ``nonzero``, ``unique``, a copy to the CPU) stalls the host until the device has caught up,
so the device idles while Python prepares the next kernels.

* On CUDA the count is the number of device->host memcpys in the profile: every such read
  makes one, and reads of host-resident scalars (the optimizer's step counters) make none.
* On a CPU nothing is copied, so the count is the number of operators that would need a device
  value on the host (``SYNC_OPS``), an operator nested inside a counted one
  (``item`` -> ``_local_scalar_dense``) counting once.  Operators inside ``optimizer.step``
  are left out: torch's optimizers read their step counters, which stay on the host.

This makes the count checkable without a GPU.  What a CPU profile cannot see: reads that
dispatch no operator (``.tolist()``, ``.numpy()``, ``.cpu()`` of a tensor already on the host);
on CUDA those show up as memcpys.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable

import torch
from torch.profiler import ProfilerActivity, profile

# Operators that need a device value on the host (size of a data-dependent output, or a scalar).
SYNC_OPS = frozenset({
    "aten::item", "aten::_local_scalar_dense", "aten::is_nonzero", "aten::nonzero", "aten::equal",
    "aten::_unique", "aten::_unique2", "aten::unique_dim", "aten::unique_consecutive", "aten::masked_select",
    "aten::repeat_interleave",
})


def _is_device_to_host(kernel) -> bool:
    return "DtoH" in kernel.name or "Device -> Pageable" in kernel.name


def _ancestors(event):
    parent = event.cpu_parent
    while parent is not None:
        yield parent
        parent = parent.cpu_parent


def count_host_syncs(fn: Callable[[], object], device: torch.device | str = "cpu") -> tuple[int, Counter]:
    """Run ``fn()`` once under the profiler; the number of host syncs and a count by operator name."""
    device = torch.device(device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    by_name: Counter = Counter()
    events = sorted(prof.events(), key=lambda e: e.time_range.start)
    if device.type == "cuda":
        for event in events:
            by_name[event.name] += sum(_is_device_to_host(k) for k in getattr(event, "kernels", ()))
        by_name = +by_name  # drop the zeros
        return sum(by_name.values()), by_name
    counted: set[int] = set()
    for event in events:
        if event.name not in SYNC_OPS:
            continue
        ancestors = list(_ancestors(event))
        if any(id(a) in counted or a.name.startswith("Optimizer.step") for a in ancestors):
            continue
        counted.add(id(event))
        by_name[event.name] += 1
    return sum(by_name.values()), by_name
