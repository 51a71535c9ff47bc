"""Parameters and multiply-adds of an ONNX graph, read from the graph itself (for the report's model table).

Parameters are the elements of the weight initializers (scales and zero points of quantized graphs excluded).
Multiply-adds are counted for Conv, ConvTranspose, Gemm and MatMul from shapes after ONNX shape inference, with
dynamic dimensions taken as 1 (batch 1): the same convention as Paddle's ``flops`` and the PaddleX tables.
Ops whose shapes cannot be inferred are left out, and the count says how many were.
"""

from __future__ import annotations

import logging
from math import prod
from typing import Any

import onnx

__all__ = ["graph_stats", "shapes_at_batch_one"]

log = logging.getLogger(__name__)

#: inputs of these ops that are scales / zero points, not weights
_QUANT_PARAM_OPS = {"QuantizeLinear": (1, 2), "DequantizeLinear": (1, 2)}


def _shape(value: onnx.ValueInfoProto) -> list[int] | None:
    if not value.type.HasField("tensor_type") or not value.type.tensor_type.HasField("shape"):
        return None
    return [
        int(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else 1 for d in value.type.tensor_type.shape.dim
    ]


def shapes_at_batch_one(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, list[int]]]:
    """``model`` after ONNX shape inference (as given when inference fails), and the shape of every value whose
    type it knows (inputs, intermediate values, outputs), dynamic dimensions taken as 1."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception as exc:  # a graph ONNX cannot infer: what the file itself declares is still known
        log.info("shape inference failed: %s", exc)
        inferred = model
    graph = inferred.graph
    shapes: dict[str, list[int]] = {}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        shape = _shape(value)
        if shape is not None:
            shapes[value.name] = shape
    return inferred, shapes


def _params(model: onnx.ModelProto) -> int:
    quant_params = {
        node.input[i]
        for node in model.graph.node
        for i in _QUANT_PARAM_OPS.get(node.op_type, ())
        if i < len(node.input)
    }
    return sum(
        prod(int(d) for d in init.dims)
        for init in model.graph.initializer
        if init.name not in quant_params and len(init.dims) >= 1
    )


def graph_stats(model: onnx.ModelProto) -> dict[str, Any]:
    """``params``, ``flops`` (multiply-adds at batch 1) and ``flops_ops_unknown`` of ``model``."""
    inferred, shapes = shapes_at_batch_one(model)  # without inference, parameters are still known
    graph = inferred.graph
    for init in graph.initializer:
        shapes[init.name] = [int(d) for d in init.dims]
    macs, unknown = 0, 0
    for node in graph.node:
        if node.op_type not in ("Conv", "ConvTranspose", "Gemm", "MatMul"):
            continue
        out = shapes.get(node.output[0])
        weight = shapes.get(node.input[1]) if len(node.input) > 1 else None
        if out is None or weight is None:
            unknown += 1
            continue
        if node.op_type == "Conv":  # W: [Cout, Cin/groups, k...]; each output element needs Cin/groups * k MACs
            macs += prod(out) * prod(weight[1:])
        elif node.op_type == "ConvTranspose":  # W: [Cin, Cout/groups, k...]; each input element feeds Cout/g * k
            source = shapes.get(node.input[0])
            if source is None:
                unknown += 1
                continue
            macs += prod(source) * prod(weight[1:])
        elif node.op_type == "Gemm":
            trans_a = next((a.i for a in node.attribute if a.name == "transA"), 0)
            a = shapes.get(node.input[0])
            if a is None:
                unknown += 1
                continue
            macs += prod(out) * (a[0] if trans_a else a[-1])
        else:
            a = shapes.get(node.input[0])
            if a is None:
                unknown += 1
                continue
            macs += prod(out) * a[-1]
    return {"params": int(_params(model)), "flops": int(macs), "flops_ops_unknown": unknown}
