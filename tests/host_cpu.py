"""Whether this CPU's int8 kernels accumulate exactly, which decides how closely Paddle Inference's int8 agrees.

oneDNN (inside Paddle Inference 2.6.2) runs a u8 x s8 convolution with VNNI (``vpdpbusd``: products summed into
int32) when the CPU has it. Without VNNI (AVX2 or plain AVX-512 CPUs, e.g. AMD EPYC Zen 3) it uses ``vpmaddubsw``,
which adds each pair of u8 x s8 products into an int16 that saturates at 32767: two activations near 255 meeting
two weights near 127 lose up to half their sum. oneDNN compensates only for s8 activations (it halves their
weights); Paddle feeds every post-ReLU tensor as u8, so its int8 outputs drift from fp32 on such CPUs. The same
model, calibration and library versions then score lower there, and the tests' bounds for int8-vs-fp32 agreement
depend on the machine. ``tests/test_paddle_backend.py::test_onednn_int8_saturates_exactly_when_the_cpu_lacks_vnni``
measures the effect itself, so a Paddle that starts compensating shows up there first.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["HAS_INT8_VNNI"]

#: /proc/cpuinfo flags of the int8 dot-product instructions oneDNN uses (AVX512-VNNI, AVX-VNNI, AMX).
_VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})


def _has_int8_vnni() -> bool:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: assume the exact kernels (the stricter bounds)
        return True
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return bool(_VNNI_FLAGS.intersection(flags))


#: True when oneDNN's int8 convolutions accumulate without int16 saturation on this machine.
HAS_INT8_VNNI = _has_int8_vnni()
