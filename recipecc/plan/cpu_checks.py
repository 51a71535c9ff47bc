"""Plan checks about this machine's CPU, for runs whose latency and int8 numerics come from it (measured-host).

Paddle Inference runs int8 through oneDNN, whose convolution kernels depend on the CPU's int8 dot-product
instructions (``recipecc/common/cpu.py``). Without them the int8 stage is computed differently here than on a VNNI
CPU: the plan says so, naming the flags it looked for and what it found, and ``results.json`` / the report carry
the warning with the plan's other checks. The text states what this machine has, never a measured figure.
"""

from __future__ import annotations

from recipecc.common.cpu import INT8_VNNI_FLAGS, CpuFacts, cpu_facts
from recipecc.plan.builder import PlanBuilder

__all__ = ["check_int8_cpu"]

#: runtimes whose int8 kernels on x86 are oneDNN's u8 x s8 convolutions
_ONEDNN_INT8 = ("paddle_inference",)


def check_int8_cpu(
    b: PlanBuilder, runtime: str, measurer: str, precision: str | None, facts: CpuFacts | None = None
) -> None:
    """Warn when an int8 stage runs on oneDNN on this machine and its CPU lacks VNNI."""
    if precision != "int8" or runtime not in _ONEDNN_INT8 or measurer != "measured-host":
        return
    facts = facts or cpu_facts()
    if facts.int8_vnni:
        return
    b.check(
        "int8 cpu",
        "warn",
        f"this machine's CPU ({facts.model}, {facts.vector_isa}) has none of {', '.join(sorted(INT8_VNNI_FLAGS))} "
        "in /proc/cpuinfo: oneDNN's int8 convolutions add each pair of u8 x s8 products into an int16 "
        "(vpmaddubsw) that saturates at 32767, so Paddle Inference's int8 outputs differ more from fp32 here "
        "than on a CPU with VNNI, and int8 runs fewer multiply-adds per instruction; the int8 stage's quality "
        "and speed in this run are this machine's, not a VNNI machine's",
    )
