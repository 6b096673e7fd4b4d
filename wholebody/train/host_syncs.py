"""Counting the points where the host waits for the device, from a profiled run of a function.

A training step that reads a device value on the host (``.item()``, ``if tensor:``, a boolean
mask, ``nonzero``, ``unique``, a copy to the CPU) stalls the host until the device has caught up,
so the device idles while Python prepares the next kernels.  The count is taken from
``torch.profiler``'s operator events and is the same on CPU as on a GPU for the operators below,
which makes it checkable without a GPU.  On CUDA, an operator whose kernels include a
device->host memcpy is counted too (a ``.cpu()`` / ``.tolist()`` / ``.numpy()`` of a device tensor).
An operator nested inside a counted one (``item`` -> ``_local_scalar_dense``) counts once.
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


def _is_device_to_host(event) -> bool:
    return any("DtoH" in kernel.name or "Device -> Pageable" in kernel.name for kernel in getattr(event, "kernels", ()))


def count_host_syncs(fn: Callable[[], object], device: torch.device | str = "cpu") -> tuple[int, Counter]:
    """Run ``fn()`` once under the profiler; the number of host syncs and a count by operator name."""
    device = torch.device(device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    by_name: Counter = Counter()
    counted: set[int] = set()
    for event in sorted(prof.events(), key=lambda e: e.time_range.start):
        if not (event.name in SYNC_OPS or _is_device_to_host(event)):
            continue
        parent, nested = event.cpu_parent, False
        while parent is not None:
            if id(parent) in counted:
                nested = True
                break
            parent = parent.cpu_parent
        if not nested:
            counted.add(id(event))
            by_name[event.name] += 1
    return sum(by_name.values()), by_name
