"""What this machine's x86 CPU can execute, read from ``/proc/cpuinfo`` (no framework import).

Two facts change what Paddle Inference 2.6.2 does on a CPU, so both the planner (warnings, at compile time) and the
Paddle runner (pass configuration, in the worker) need them:

- int8 dot products. oneDNN runs a u8 x s8 convolution with VNNI (``vpdpbusd``: products summed into int32) when
  the CPU has it (AVX512-VNNI, AVX-VNNI, AMX). Without VNNI (AVX2 or plain AVX-512 CPUs, e.g. AMD EPYC Zen 3) it
  uses ``vpmaddubsw``, which adds each pair of u8 x s8 products into an int16 that saturates at 32767: two
  activations near 255 meeting two weights near 127 lose up to half their sum. oneDNN compensates only for s8
  activations; Paddle feeds every post-ReLU tensor as u8, so its int8 outputs drift from fp32 on such CPUs, and
  the int8 kernels run about half as many multiply-adds per instruction as with VNNI.
- AVX-512F. Paddle 2.6.2's ``self_attention_fuse_pass`` is compiled with AVX-512 and executes AVX-512 instructions
  while matching its pattern, without asking the CPU first: on an AVX2-only CPU, a model with attention (PP-OCRv4's
  recognizer) kills the process with SIGILL while the predictor is created.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = ["INT8_VNNI_FLAGS", "CpuFacts", "cpu_facts", "parse_cpuinfo"]

#: /proc/cpuinfo flags of the int8 dot-product instructions oneDNN uses (AVX512-VNNI, AVX-VNNI, AMX).
INT8_VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})


@dataclass(frozen=True)
class CpuFacts:
    """The CPU flags that matter to the int8 runtimes, and where they were read."""

    model: str
    flags: frozenset[str]
    known: bool  # False when /proc/cpuinfo could not be read: nothing is claimed about the CPU

    @property
    def x86(self) -> bool:
        return "avx" in self.flags or "sse2" in self.flags

    @property
    def int8_vnni(self) -> bool:
        """oneDNN's int8 convolutions accumulate in int32 without int16 saturation (True when unknown)."""
        return not self.known or not self.x86 or bool(INT8_VNNI_FLAGS & self.flags)

    @property
    def avx512f(self) -> bool:
        """AVX-512 Foundation is there (True when unknown: no workaround is applied blindly)."""
        return not self.known or not self.x86 or "avx512f" in self.flags

    @property
    def vector_isa(self) -> str:
        """The widest x86 vector extension present (``AVX-512``, ``AVX2``, ``AVX``), or the machine's name."""
        for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX")):
            if flag in self.flags:
                return name
        return platform.machine() or "unknown"


def _platform_cpu_name() -> str:
    """The CPU's name where /proc/cpuinfo has none (it is part of host measurements' cache keys: keep it stable)."""
    return platform.processor() or platform.machine() or "unknown"


def parse_cpuinfo(text: str) -> CpuFacts:
    """The first processor's model name and flags in ``/proc/cpuinfo`` text."""
    model, flags = "", frozenset[str]()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = frozenset(value.split())
    return CpuFacts(model=model or _platform_cpu_name(), flags=flags, known=bool(flags))


@lru_cache(maxsize=1)
def cpu_facts() -> CpuFacts:
    """This machine's CPU facts (cached for the process)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: claim nothing
        return CpuFacts(model=_platform_cpu_name(), flags=frozenset(), known=False)
    return parse_cpuinfo(text)
