"""A Paddle Inference predictor on the host CPU, configured as recipecc measures it (oneDNN, int8 kernels on).

fp32 models run with oneDNN; int8 models run with oneDNN *and* its int8 kernels switched on
(``enable_mkldnn_int8``): without that switch a quantized model runs its fake-quant ops in fp32 and is many times
slower. On a CPU without AVX-512 the ``self_attention_fuse_pass`` is switched off: Paddle 2.6.2 executes AVX-512
instructions in it unasked and dies with SIGILL on attention models such as PP-OCRv4's recognizer
(``recipecc/common/cpu.py``). The benchmark runner and the PTQ calibration search both build predictors here, so
the search scores candidates with the same engine the report later measures.

oneDNN runs an adaptive ``pool2d`` only when the input's height and width are multiples of the output's; otherwise
Paddle falls back to its plain CPU kernel, which has no int8 variant, and an int8 model dies at its first run ("There
are no kernels which are registered in the pool2d operator"): Fast-SCNN's pyramid pooling (bins 1, 2, 3, 6) on any
map not divisible by 3 and 6. For such a program every other operator type oneDNN quantizes stays int8 and
``pool2d`` stays fp32 (:func:`int8_op_types`; the benchmark's engine line says so).
"""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from pathlib import Path
from typing import Any

from recipecc.common.cpu import cpu_facts
from recipecc.passes.quiet import quiet_stdout

__all__ = ["ONEDNN_INT8_OP_TYPES", "fp32_pool_reason", "int8_op_types", "make_predictor", "skipped_passes"]

#: the operator types Paddle 2.6.2's ``cpu_quantize_placement_pass`` accepts (it refuses any other name given to
#: ``enable_mkldnn_int8``); an empty set means all of them plus ``pool2d``
ONEDNN_INT8_OP_TYPES = frozenset(
    {
        "concat", "conv2d", "depthwise_conv2d", "elementwise_add", "elementwise_mul", "elementwise_sub", "fc",
        "fused_conv2d", "fused_conv3d", "fused_elementwise_add", "fused_elementwise_mul", "fused_elementwise_sub",
        "fused_matmul", "fusion_gru", "fusion_lstm", "matmul", "matmul_v2", "multi_gru", "nearest_interp",
        "nearest_interp_v2", "prior_box", "reshape2", "slice", "split", "transpose2",
    }
)  # fmt: skip


def skipped_passes() -> list[str]:
    """IR passes this machine's CPU cannot run (see the module docstring)."""
    return [] if cpu_facts().avx512f else ["self_attention_fuse_pass"]


def fp32_pool_reason(program_file: Path) -> str | None:
    """Why ``pool2d`` must stay fp32 in oneDNN int8 (an adaptive pool whose input size is not a multiple of its
    output size, or of unknown size), or None when every pool can run in int8."""
    from paddle.framework import core

    desc = core.ProgramDesc(program_file.read_bytes())
    for b in range(desc.num_blocks()):
        block = desc.block(b)
        for i in range(block.op_size()):
            op = block.op(i)
            if op.type() != "pool2d" or not op.attr("adaptive"):
                continue
            bins = [int(v) for v in op.attr("ksize")]
            var = block.find_var(op.input("X")[0].encode())
            size = [int(v) for v in var.shape()[-2:]] if var is not None else []
            if len(size) != 2 or any(v <= 0 for v in size) or any(s % k for s, k in zip(size, bins, strict=True)):
                return f"adaptive pool2d from {size or 'an unknown size'} to {bins} bins"
    return None


def int8_op_types(model_dir: Path, files: list[str]) -> set[str]:
    """The operator types to run in oneDNN int8 (empty: all it can); without ``pool2d`` when
    :func:`fp32_pool_reason` gives a reason (the benchmark's engine line says it)."""
    return set(ONEDNN_INT8_OP_TYPES) if fp32_pool_reason(model_dir / files[0]) else set()


def make_predictor(model_dir: Path, files: list[str], precision: str, threads: int) -> Any:
    import paddle.inference as pi

    config = pi.Config(str(model_dir / files[0]), str(model_dir / files[1]))
    config.disable_gpu()
    config.disable_glog_info()
    config.enable_mkldnn()
    if precision == "int8":
        config.enable_mkldnn_int8(int8_op_types(model_dir, files))
    config.set_cpu_math_library_num_threads(threads)
    config.switch_ir_optim(True)
    for name in skipped_passes():
        config.delete_pass(name)
    with quiet_stdout():  # oneDNN int8 passes print their statistics
        return pi.create_predictor(config)
