"""What a ``strategy.search`` candidate's configuration applied, in words, for the report's candidate table.

A candidate is a whole ``QuantConfig`` (every field filled with its default after composition), but a mode reads only
some of its knobs: dynamic quantization has no calibration, no QDQ/QOperator format and no activation type (ORT
quantizes activations at run time), fp16 has none of the int8 knobs. Printing the defaults of knobs a mode ignores
told the reader that a ``ptq_dynamic`` candidate ran as ``qdq act=uint8``; this module names only what applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["applied_config"]


def _selection(config: Mapping[str, Any]) -> list[str]:
    parts = []
    if config.get("op_types"):
        parts.append("ops=" + "/".join(str(o) for o in config["op_types"]))
    if config.get("exclude_op_types"):
        parts.append("except ops=" + "/".join(str(o) for o in config["exclude_op_types"]))
    if config.get("exclude_nodes"):
        parts.append("except nodes=" + "/".join(str(n) for n in config["exclude_nodes"]))
    return parts


def applied_config(config: Mapping[str, Any]) -> str:
    """``config`` (a resolved ``strategy.search.candidates[i]``) as the knobs its mode reads, e.g.
    ``ptq_static qdq act=uint8 w=int8 per-channel calibration=percentile`` or ``ptq_dynamic w=int8 per-tensor``."""
    mode = str(config.get("mode", ""))
    onnx: Mapping[str, Any] = config.get("onnx") or {}
    granularity = "per-channel" if config.get("weight_per_channel") else "per-tensor"
    if mode == "fp16":
        return "fp16 (float16 weights and compute, float32 inputs/outputs)"
    if mode == "ptq_dynamic":
        parts = [mode, f"w={onnx.get('weight_type')}", granularity, "activations quantized at run time"]
    elif mode == "ptq_static":
        algo = str(config.get("algo", ""))
        parts = [
            mode,
            str(onnx.get("format")),
            f"act={onnx.get('activation_type')}",
            f"w={onnx.get('weight_type')}",
            granularity,
            "calibration=search" if algo in ("auto", "search") else f"calibration={algo}",
        ]
        if algo in ("auto", "search"):  # the search tries both granularities
            parts.remove(granularity)
    else:
        parts = [mode]
    if config.get("bits", 8) != 8:
        parts.insert(1, f"{config['bits']} bits")
    return " ".join(parts + _selection(config))
