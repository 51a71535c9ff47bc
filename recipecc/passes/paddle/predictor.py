"""A Paddle Inference predictor on the host CPU, configured as recipecc measures it (oneDNN, int8 kernels on).

fp32 models run with oneDNN; int8 models run with oneDNN *and* its int8 kernels switched on
(``enable_mkldnn_int8``): without that switch a quantized model runs its fake-quant ops in fp32 and is many times
slower. On a CPU without AVX-512 the ``self_attention_fuse_pass`` is switched off: Paddle 2.6.2 executes AVX-512
instructions in it unasked and dies with SIGILL on attention models such as PP-OCRv4's recognizer
(``recipecc/common/cpu.py``). The benchmark runner and the PTQ calibration search both build predictors here, so
the search scores candidates with the same engine the report later measures.
"""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from pathlib import Path
from typing import Any

from recipecc.common.cpu import cpu_facts
from recipecc.passes.quiet import quiet_stdout

__all__ = ["make_predictor", "skipped_passes"]


def skipped_passes() -> list[str]:
    """IR passes this machine's CPU cannot run (see the module docstring)."""
    return [] if cpu_facts().avx512f else ["self_attention_fuse_pass"]


def make_predictor(model_dir: Path, files: list[str], precision: str, threads: int) -> Any:
    import paddle.inference as pi

    config = pi.Config(str(model_dir / files[0]), str(model_dir / files[1]))
    config.disable_gpu()
    config.disable_glog_info()
    config.enable_mkldnn()
    if precision == "int8":
        config.enable_mkldnn_int8()
    config.set_cpu_math_library_num_threads(threads)
    config.switch_ir_optim(True)
    for name in skipped_passes():
        config.delete_pass(name)
    with quiet_stdout():  # oneDNN int8 passes print their statistics
        return pi.create_predictor(config)
