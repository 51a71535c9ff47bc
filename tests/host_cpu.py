"""Whether this CPU's int8 kernels accumulate exactly, which decides how closely Paddle Inference's int8 agrees.

The facts and their consequences are described in ``recipecc/common/cpu.py`` (the planner warns from the same
reading). Without VNNI, oneDNN's int8 convolutions saturate int16 pair sums and Paddle Inference's int8 outputs
drift from fp32, so the tests' bounds for int8-vs-fp32 agreement depend on the machine.
``tests/test_paddle_backend.py::test_onednn_int8_saturates_exactly_when_the_cpu_lacks_vnni`` measures the effect
itself, so a Paddle that starts compensating shows up there first.
"""

from __future__ import annotations

from recipecc.common.cpu import cpu_facts

__all__ = ["HAS_INT8_VNNI"]

#: True when oneDNN's int8 convolutions accumulate without int16 saturation on this machine.
HAS_INT8_VNNI = cpu_facts().int8_vnni
