"""The latency measurement loop and its statistics, shared by every runner.

One call = what an application pays per inference (input copy, run, output copy). ``warmup`` calls are run and
discarded (allocations, oneDNN primitive creation), then ``repeats`` calls are timed one by one with
``time.perf_counter_ns``; median and p90 are reported, with mean, min and standard deviation.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["host_description", "measure_latency"]


def measure_latency(call: Callable[[], object], *, warmup: int, repeats: int) -> dict[str, Any]:
    """Time ``call``; returns milliseconds statistics with the protocol that produced them."""
    for _ in range(warmup):
        call()
    samples = np.empty(repeats, dtype=np.float64)
    for index in range(repeats):
        start = time.perf_counter_ns()
        call()
        samples[index] = (time.perf_counter_ns() - start) / 1e6
    return {
        "median_ms": float(np.median(samples)),
        "p90_ms": float(np.percentile(samples, 90)),
        "mean_ms": float(samples.mean()),
        "min_ms": float(samples.min()),
        "std_ms": float(samples.std()),
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
