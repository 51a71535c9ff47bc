"""The latency measurement loop and its statistics, shared by every runner.

One call = what an application pays per inference (input copy, run, output copy). ``warmup`` calls are run and
discarded (allocations, oneDNN primitive creation), then ``repeats`` calls are timed one by one with
``time.perf_counter_ns``; median and p90 are reported, with mean, min and standard deviation.

Each call's process CPU time (``time.process_time_ns``, every thread of the process) is taken too. On a machine
shared with other jobs the wall time of a call includes the time the OS gave the cores to someone else, and two
stages timed one after the other can meet different loads: ``cpu_share`` (CPU time over wall time x threads) says
how much of the timed wall time the process actually ran, and a one-thread row below :data:`CONTENDED_SHARE` is
flagged ``contended`` (with more threads a low share can also mean the runtime left a thread idle on a small
model, so those rows record their share without a verdict). At one thread the runtimes compute on the calling
thread, so the median CPU time per call (``cpu_median_ms``) is what the call costs without the waits, the figure
a comparison between stages can use when the wall times were contended.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["CONTENDED_SHARE", "host_description", "measure_latency"]

#: a timed loop that ran on the CPU for less than this share of its wall time (per thread asked for) competed with
#: other processes: its wall-clock figures are inflated (an idle host gives 0.95-1.0 at one thread)
CONTENDED_SHARE = 0.8


def measure_latency(call: Callable[[], object], *, warmup: int, repeats: int, threads: int = 1) -> dict[str, Any]:
    """Time ``call``; returns milliseconds statistics with the protocol that produced them, and how much of the
    timed wall time the process had the CPU (``threads``: the thread count the call was built for)."""
    for _ in range(warmup):
        call()
    samples = np.empty(repeats, dtype=np.float64)
    cpu = np.empty(repeats, dtype=np.float64)
    for index in range(repeats):
        cpu_start = time.process_time_ns()
        start = time.perf_counter_ns()
        call()
        samples[index] = (time.perf_counter_ns() - start) / 1e6
        cpu[index] = (time.process_time_ns() - cpu_start) / 1e6
    share = float(cpu.sum() / (samples.sum() * max(threads, 1))) if samples.sum() > 0 else 1.0
    return {
        "median_ms": float(np.median(samples)),
        "p90_ms": float(np.percentile(samples, 90)),
        "mean_ms": float(samples.mean()),
        "min_ms": float(samples.min()),
        "std_ms": float(samples.std()),
        "cpu_median_ms": float(np.median(cpu)),
        "cpu_share": round(share, 3),
        "contended": threads == 1 and share < CONTENDED_SHARE,
        "warmup": warmup,
        "repeats": repeats,
        "clock": "time.perf_counter_ns, per call (input copy + run + output copy)",
    }


def host_description() -> dict[str, Any]:
    """The machine a measured-host latency was taken on."""
    import os

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
            info.seek(0)
            flags = next((ln.split(":", 1)[1].split() for ln in info if ln.startswith("flags")), [])
    except OSError:
        flags = []
    isa = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_int8", "neon") if f in flags]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "isa": isa,
        "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }
