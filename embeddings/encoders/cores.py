"""How many threads a worker may use: the cores it actually has, split between decoding and the forward pass.

Oversubscription is what hurts on a small box: OpenMP threads spinning beside
decode threads made small ops 14x slower here. So decode threads plus compute
threads never exceed the cores this process may run on: its CPU affinity,
capped by a cgroup CPU quota when it runs in a container.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from embeddings.encoders import options

_CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
_CGROUP_V1 = (Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))


def _quota() -> int | None:
    try:
        quota, period = _CGROUP_V2.read_text().split()[:2]
        return None if quota == "max" else math.ceil(int(quota) / int(period))
    except (OSError, ValueError):
        pass
    try:
        quota_us, period_us = (int(path.read_text()) for path in _CGROUP_V1)
    except (OSError, ValueError):
        return None
    return math.ceil(quota_us / period_us) if quota_us > 0 and period_us > 0 else None


def available_cores() -> int:
    """The CPUs this process may run on (its affinity mask), no more than its cgroup quota allows."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    quota = _quota()
    return max(1, min(cores, quota) if quota else cores)


@dataclass(frozen=True)
class ThreadBudget:
    decode: int  # threads decoding and resizing photos
    compute: int  # threads of one forward pass (torch or ONNX Runtime intra-op threads)


def thread_budget() -> ThreadBudget:
    """Decode threads (a quarter of the cores, at least one) and compute threads (the rest), unless set."""
    chosen = options.current()
    cores = available_cores()
    decode = chosen.decode_workers or max(1, cores // 4)
    compute = chosen.compute_threads or max(1, cores - decode)
    return ThreadBudget(decode=decode, compute=compute)
