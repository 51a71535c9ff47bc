"""Per-layer cost of a ``.tflite`` model in the latency estimator's layer-table format (``recipecc/estimate``).

Read with LiteRT's interpreter (no TensorFlow import): CONV_2D (filter ``[cout, kh, kw, cin]``), DEPTHWISE_CONV_2D
(``[1, kh, kw, channels]``), FULLY_CONNECTED (``[out, in]``) become rows; strides are the ratio of input to output
size (SAME padding); every other op's outputs are summed into the memory-only row. Quantize/dequantize ops are not
counted (XNNPACK fuses them).
"""

from __future__ import annotations

from math import prod
from pathlib import Path
from typing import Any

__all__ = ["layer_table"]

_SKIP = {"QUANTIZE", "DEQUANTIZE", "RESHAPE", "SQUEEZE"}


def layer_table(path: Path) -> dict[str, Any] | None:
    """The layer table of a ``.tflite`` file (None when it has no convolution or dense layer)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    tensors = {t["index"]: [int(d) for d in t["shape"]] for t in interpreter.get_tensor_details()}
    layers: list[dict[str, Any]] = []
    other_elems = other_ops = 0
    for op in interpreter._get_ops_details():
        name, inputs = str(op["op_name"]), [int(i) for i in op["inputs"] if int(i) >= 0]
        out = tensors.get(int(op["outputs"][0])) if len(op["outputs"]) else None
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D") and len(inputs) >= 2 and out and len(out) == 4:
            inp, weight = tensors[inputs[0]], tensors[inputs[1]]
            kh, kw = weight[1], weight[2]
            depthwise = name == "DEPTHWISE_CONV_2D"
            cout = out[3]
            cin_per_group = 1 if depthwise else weight[3]
            stride = [max(1, round(inp[1] / max(1, out[1]))), max(1, round(inp[2] / max(1, out[2])))]
            layers.append(
                {
                    "name": f"{name.lower()}{op['index']}",
                    "kind": "dwconv" if depthwise else ("conv1x1" if kh * kw == 1 else "conv"),
                    "macs": cout * cin_per_group * kh * kw * out[1] * out[2],
                    "params": cout * cin_per_group * kh * kw,
                    "in_elems": prod(inp),
                    "out_elems": prod(out),
                    "kernel": [kh, kw],
                    "stride": stride,
                    "groups": cout if depthwise else 1,
                }
            )
        elif name == "FULLY_CONNECTED" and len(inputs) >= 2 and out:
            fan_out, fan_in = tensors[inputs[1]][0], tensors[inputs[1]][-1]
            rows = max(1, prod(out) // max(1, fan_out))
            layers.append(
                {
                    "name": f"fc{op['index']}",
                    "kind": "fc",
                    "macs": rows * fan_in * fan_out,
                    "params": fan_in * fan_out,
                    "in_elems": rows * fan_in,
                    "out_elems": rows * fan_out,
                }
            )
        elif name not in _SKIP:
            other_ops += 1
            other_elems += prod(out) if out else 0
    if not layers:
        return None
    return {
        "layers": layers,
        "other": {"ops": other_ops, "elems": other_elems},
        "macs": sum(r["macs"] for r in layers),
        "params": sum(r["params"] for r in layers),
    }
