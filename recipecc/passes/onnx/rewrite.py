"""Graph rewrites that make an exporter's ONNX model load in ONNX Runtime and compute what its source computed.

Each rewrite is exact (the outputs do not change), targets one known exporter pattern, and returns the names of the
nodes it changed so the pass can record them (nothing is rewritten silently):

- :func:`exact_adaptive_pools`: paddle2onnx turns Paddle's adaptive average pooling into an ``AveragePool`` with
  ``stride = in // out`` and ``kernel = in - (out - 1) * stride``. When the input is smaller than the output
  (Fast-SCNN's pyramid pooling pools a 4x4 map to 6x6 bins at a 128x128 input) the stride is 0 and ORT refuses
  the model; when ``in`` is not a multiple of ``out`` the windows differ from Paddle's (``floor(i * in / out)``
  to ``ceil((i + 1) * in / out)``) and so do the outputs. Such a pool becomes two ``MatMul`` with constant
  averaging matrices (rows, then columns), which is adaptive pooling exactly, at any size.
- :func:`omit_empty_resize_inputs`: exporters give ``Resize`` an empty ``roi`` and ``scales`` when ``sizes``
  decides. The fp16 converter casts that empty ``scales`` through a ``Cast`` node, after which ORT's shape
  inference no longer sees it is empty ("Either `sizes` or `scales` must be provided, but not both"). From opset
  13 on both inputs are optional: an empty one is omitted instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import helper, numpy_helper

from recipecc.passes.onnx.common import constant_tensors, opset_of

__all__ = ["adaptive_windows", "exact_adaptive_pools", "omit_empty_resize_inputs"]

#: an adaptive pool's geometry: input height, input width, output height, output width
PoolGeometry = tuple[int, int, int, int]


def adaptive_windows(size: int, bins: int) -> list[tuple[int, int]]:
    """The ``[start, end)`` window of each bin of adaptive pooling (Paddle's and PyTorch's definition)."""
    return [((i * size) // bins, -((-(i + 1) * size) // bins)) for i in range(bins)]


def _pool_windows(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int) -> list[tuple[int, int]] | None:
    """The windows an ``AveragePool`` (floor mode, padding excluded from the count) averages, or None if invalid."""
    if stride < 1 or kernel < 1 or size + pad_begin + pad_end < kernel:
        return None
    count = (size + pad_begin + pad_end - kernel) // stride + 1
    return [(max(0, i * stride - pad_begin), min(size, i * stride - pad_begin + kernel)) for i in range(count)]


def _averaging_matrix(size: int, bins: int) -> NDArray[np.float32]:
    """``(bins, size)``: row ``i`` averages the inputs of bin ``i``."""
    matrix = np.zeros((bins, size), dtype=np.float32)
    for row, (start, end) in enumerate(adaptive_windows(size, bins)):
        matrix[row, start:end] = 1.0 / (end - start)
    return matrix


def _is_exact(node: onnx.NodeProto, geometry: PoolGeometry) -> bool:
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if attrs.get("ceil_mode", 0) or attrs.get("count_include_pad", 0) or attrs.get("auto_pad", b"NOTSET") != b"NOTSET":
        return False
    kernel, strides = list(attrs.get("kernel_shape", [])), list(attrs.get("strides", [1, 1]))
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    if len(kernel) != 2 or len(strides) != 2 or len(pads) != 4:
        return False
    in_h, in_w, out_h, out_w = geometry
    rows = _pool_windows(in_h, kernel[0], strides[0], pads[0], pads[2])
    cols = _pool_windows(in_w, kernel[1], strides[1], pads[1], pads[3])
    return rows == adaptive_windows(in_h, out_h) and cols == adaptive_windows(in_w, out_w)


def exact_adaptive_pools(model: onnx.ModelProto, pools: Mapping[str, PoolGeometry]) -> list[str]:
    """Rewrite the ``AveragePool`` nodes writing one of ``pools`` (output name -> geometry, read from the source
    framework's program) whose windows are not adaptive pooling's, as exact ``MatMul`` pairs. Returns their names.
    """
    rewritten: list[str] = []
    nodes: list[onnx.NodeProto] = []
    for node in model.graph.node:
        geometry = pools.get(node.output[0]) if node.op_type == "AveragePool" and node.output else None
        if geometry is None or _is_exact(node, geometry):
            nodes.append(node)
            continue
        in_h, in_w, out_h, out_w = geometry
        name = node.name or node.output[0]
        rows, cols, half = f"{name}/adaptive_rows", f"{name}/adaptive_cols", f"{name}/adaptive_pooled_cols"
        model.graph.initializer.extend(
            [
                numpy_helper.from_array(_averaging_matrix(in_h, out_h), rows),
                numpy_helper.from_array(np.ascontiguousarray(_averaging_matrix(in_w, out_w).T), cols),
            ]
        )
        # (N, C, H, W) @ (W, out_w) -> (N, C, H, out_w); (out_h, H) @ that -> (N, C, out_h, out_w)
        nodes.append(helper.make_node("MatMul", [node.input[0], cols], [half], name=f"{name}/adaptive_cols"))
        nodes.append(helper.make_node("MatMul", [rows, half], [node.output[0]], name=f"{name}/adaptive_rows"))
        rewritten.append(name)
    if rewritten:
        del model.graph.node[:]
        model.graph.node.extend(nodes)
    return rewritten


def omit_empty_resize_inputs(model: onnx.ModelProto) -> list[str]:
    """Omit the empty constant ``roi``/``scales`` inputs of ``Resize`` nodes (opset 13+). Returns the node names."""
    if opset_of(model) < 13:
        return []
    constants = constant_tensors(model)
    changed: list[str] = []
    dropped: set[str] = set()
    for node in model.graph.node:
        if node.op_type != "Resize":
            continue
        for index in (1, 2):
            value = node.input[index] if index < len(node.input) else ""
            if value in constants and len(constants[value].dims) > 0 and math.prod(constants[value].dims) == 0:
                node.input[index] = ""
                dropped.add(value)
                changed.append(node.name)
    _drop_unread(model, dropped)
    return sorted(set(changed))


def _drop_unread(model: onnx.ModelProto, names: Sequence[str] | set[str]) -> None:
    """Remove the initializers and ``Constant`` nodes among ``names`` that nothing reads any more."""
    read = {value for node in model.graph.node for value in node.input} | {o.name for o in model.graph.output}
    unread = set(names) - read
    if not unread:
        return
    kept_inits = [init for init in model.graph.initializer if init.name not in unread]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept_inits)
    kept_nodes = [n for n in model.graph.node if not (n.op_type == "Constant" and n.output and n.output[0] in unread)]
    del model.graph.node[:]
    model.graph.node.extend(kept_nodes)
