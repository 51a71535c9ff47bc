"""Per-layer cost of an ONNX graph in the latency estimator's layer-table format (``recipecc/estimate``).

The same rows as the Paddle walker (``passes/paddle/layer_table.py``): Conv (1x1, depthwise, others), Gemm/MatMul
with a constant weight, and one memory-only row summing the outputs of every other op. Shapes come from ONNX shape
inference with dynamic dimensions taken as 1 (batch 1); weights behind a DequantizeLinear (QDQ graphs) are read
from their integer initializer; quantize/dequantize ops themselves are not counted (runtimes fuse them).
"""

from __future__ import annotations

import logging
from math import prod
from pathlib import Path
from typing import Any

import onnx

from recipecc.passes.onnx.graph_stats import shapes_at_batch_one

__all__ = ["layer_table", "onnx_layer_table"]

log = logging.getLogger(__name__)
_SKIP = {"QuantizeLinear", "DequantizeLinear", "Identity", "Constant", "Shape", "Reshape", "Flatten", "Squeeze"}


def onnx_layer_table(model: onnx.ModelProto) -> dict[str, Any]:
    """The layer table of ``model`` (batch 1)."""
    model, shapes = shapes_at_batch_one(model)
    graph = model.graph
    constants = {init.name: [int(d) for d in init.dims] for init in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}

    def weight_shape(name: str) -> list[int] | None:
        if name in constants:
            return constants[name]
        node = producer.get(name)
        if node is not None and node.op_type in ("DequantizeLinear", "Identity") and node.input[0] in constants:
            return constants[node.input[0]]
        return None

    layers: list[dict[str, Any]] = []
    other_elems = other_ops = 0
    for index, node in enumerate(graph.node):
        out = shapes.get(node.output[0]) if node.output else None
        if node.op_type == "Conv" and len(node.input) > 1:
            weight, inp = weight_shape(node.input[1]), shapes.get(node.input[0])
            if weight is None or out is None or inp is None:
                continue
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            groups = int(attrs.get("group", 1))
            cout, cin_per_group, *kernel = weight
            depthwise = groups > 1 and groups == cout
            layers.append(
                {
                    "name": node.name or f"conv{index}",
                    "kind": "dwconv" if depthwise else ("conv1x1" if prod(kernel) == 1 else "conv"),
                    "macs": cout * cin_per_group * prod(kernel) * prod(out[2:]),
                    "params": cout * cin_per_group * prod(kernel),
                    "in_elems": prod(inp),
                    "out_elems": prod(out),
                    "kernel": list(kernel),
                    "stride": [int(s) for s in attrs.get("strides", [1] * len(kernel))],
                    "groups": groups,
                }
            )
        elif node.op_type in ("Gemm", "MatMul") and len(node.input) > 1 and weight_shape(node.input[1]):
            weight = weight_shape(node.input[1]) or []
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            fan_in, fan_out = (weight[-1], weight[-2]) if attrs.get("transB") else (weight[-2], weight[-1])
            rows = prod(out[:-1]) if out else 1
            layers.append(
                {
                    "name": node.name or f"fc{index}",
                    "kind": "fc",
                    "macs": rows * fan_in * fan_out,
                    "params": fan_in * fan_out,
                    "in_elems": rows * fan_in,
                    "out_elems": rows * fan_out,
                }
            )
        elif node.op_type not in _SKIP:
            other_ops += 1
            other_elems += prod(out) if out else 0
    return {
        "layers": layers,
        "other": {"ops": other_ops, "elems": other_elems},
        "macs": sum(r["macs"] for r in layers),
        "params": sum(r["params"] for r in layers),
    }


def layer_table(path: Path) -> dict[str, Any] | None:
    """The layer table of an ``.onnx`` file (None when it has no convolution or dense layer to count)."""
    table = onnx_layer_table(onnx.load(str(path)))
    return table if table["layers"] else None
