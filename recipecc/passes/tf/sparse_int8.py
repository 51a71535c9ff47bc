"""Store a quantized ``.tflite`` file's int8 weights sparse again, as the file it came from stored its float ones.

A sparse file (MediaPipe's ``face_detection_full_range_sparse``: float16 weights in TFLite's sparse format, 70% of
the values zero) is made dense for ai-edge-quantizer (``flatbuffer_prep``), which writes dense int8 weights: the
int8 file then stores every zero and is larger than the sparse float one. TFLite's own sparse format takes int8
values too, and the TFLite converter writes exactly that with ``EXPERIMENTAL_SPARSITY`` on an int8 model: the
weight behind a ``DENSIFY`` op, the last dimension in CSR (uint16 / int32 row segments, uint8 / uint16 column
indices), the other dimensions dense. LiteRT's XNNPACK delegate folds an int8 ``DENSIFY`` of a constant at load
time and keeps the convolution delegated (checked on the converter's own output), so the re-encoded file computes
the same numbers at the same speed. A tensor is re-encoded only where that saves at least ``min_saving`` of its
bytes (an int8 value costs 1 byte dense, 2-3 bytes sparse with its index).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["quantization_parameter_bytes", "same_outputs", "store_weights_sparse"]

_WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def _schema() -> Any:
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def _index_vector(values: NDArray[Any], limit: int) -> tuple[int, Any]:
    """The smallest of TFLite's index vector types holding values up to ``limit``: (union type, vector)."""
    schema = _schema()
    for bound, dtype, kind, vector in (
        (255, np.uint8, schema.SparseIndexVector.Uint8Vector, schema.Uint8VectorT),
        (65535, np.uint16, schema.SparseIndexVector.Uint16Vector, schema.Uint16VectorT),
        (2**31 - 1, np.int32, schema.SparseIndexVector.Int32Vector, schema.Int32VectorT),
    ):
        if limit <= bound:
            packed = vector()
            packed.values = np.ascontiguousarray(values, dtype=dtype)
            return int(kind), packed
    raise ValueError(f"index {limit} does not fit TFLite's sparse index types")


def _csr(dense: NDArray[Any]) -> tuple[Any, bytes, int]:
    """Sparsity parameters (last dimension CSR, the others dense), the nonzero values, and the encoded size."""
    schema = _schema()
    rows = dense.reshape(-1, dense.shape[-1])
    nonzero = rows != 0
    segments = np.concatenate([[0], np.cumsum(nonzero.sum(axis=1))])
    indices = np.nonzero(nonzero)[1]
    values = rows[nonzero].astype(np.int8).tobytes()
    dims = []
    for size in dense.shape[:-1]:
        dim = schema.DimensionMetadataT()
        dim.format = schema.DimensionType.DENSE
        dim.denseSize = int(size)
        dims.append(dim)
    last = schema.DimensionMetadataT()
    last.format = schema.DimensionType.SPARSE_CSR
    last.arraySegmentsType, last.arraySegments = _index_vector(segments, int(segments[-1]))
    last.arrayIndicesType, last.arrayIndices = _index_vector(indices, int(dense.shape[-1]) - 1)
    dims.append(last)
    sparsity = schema.SparsityParametersT()
    sparsity.traversalOrder = np.arange(dense.ndim, dtype=np.int32)
    sparsity.dimMetadata = dims
    size = len(values) + last.arraySegments.values.nbytes + last.arrayIndices.values.nbytes
    return sparsity, values, size


def _densify_code(model: Any) -> int:
    schema = _schema()
    densify = schema.BuiltinOperator.DENSIFY
    for index, code in enumerate(model.operatorCodes):
        if max(int(code.builtinCode), int(code.deprecatedBuiltinCode)) == densify:
            return index
    code = schema.OperatorCodeT()
    code.builtinCode = densify
    code.deprecatedBuiltinCode = min(densify, schema.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
    code.version = 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def store_weights_sparse(flatbuffer: bytes, min_saving: float = 0.2) -> tuple[bytes, dict[str, int]]:
    """``flatbuffer`` with its int8 convolution / fully-connected weights stored sparse where that saves at least
    ``min_saving`` of their bytes, and ``{"tensors", "dense_bytes", "stored_bytes"}`` of those re-encoded."""
    from ai_edge_litert.tools import flatbuffer_utils

    schema = _schema()
    names = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    for buffer in model.buffers:  # ai-edge-quantizer appends buffers after the flatbuffer: bring them inside
        if buffer.offset > 1 and buffer.size:
            buffer.data = np.frombuffer(flatbuffer[buffer.offset : buffer.offset + buffer.size], dtype=np.uint8)
            buffer.offset = buffer.size = 0
    graph = model.subgraphs[0]
    weights = set()
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        if names.get(max(int(code.builtinCode), int(code.deprecatedBuiltinCode))) in _WEIGHT_OPS and len(op.inputs) > 1:
            weights.add(int(op.inputs[1]))
    facts = {"tensors": 0, "dense_bytes": 0, "stored_bytes": 0}
    densify_ops = []
    for index in sorted(weights):
        tensor = graph.tensors[index]
        data = model.buffers[tensor.buffer].data if tensor.buffer else None
        if tensor.type != schema.TensorType.INT8 or tensor.sparsity is not None or data is None or not len(data):
            continue
        dense = np.frombuffer(bytes(np.asarray(data, dtype=np.uint8)), dtype=np.int8).reshape(list(tensor.shape))
        sparsity, values, size = _csr(dense)
        if size > (1.0 - min_saving) * dense.size:
            continue
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(values, dtype=np.uint8)
        model.buffers.append(buffer)
        stored = copy.deepcopy(tensor)
        stored.name = (tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)) + "/sparse"
        # the DENSIFY output (the weight the convolution reads) keeps the scales and zero points; a copy on the
        # sparse input costs 12 bytes per output channel and is read by nothing (XNNPACK and TFLite's kernels
        # give bit-identical outputs without it: face_detection_full_range_sparse 751,496 -> 702,104 bytes)
        stored.quantization = None
        stored.buffer = len(model.buffers) - 1
        stored.sparsity = sparsity
        graph.tensors.append(stored)
        if sum(1 for t in graph.tensors if t.buffer == tensor.buffer) == 1:  # no other tensor shares the bytes
            model.buffers[tensor.buffer].data = None  # the dense bytes leave the file
        tensor.buffer = 0  # now the DENSIFY op's output, computed at load time
        op = schema.OperatorT()
        op.opcodeIndex = _densify_code(model)
        op.inputs = np.array([len(graph.tensors) - 1], dtype=np.int32)
        op.outputs = np.array([index], dtype=np.int32)
        densify_ops.append(op)
        facts["tensors"] += 1
        facts["dense_bytes"] += int(dense.size)
        facts["stored_bytes"] += int(size)
    if not densify_ops:
        return flatbuffer, facts
    graph.operators = densify_ops + list(graph.operators)  # constants in, so first in execution order
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)), facts


def quantization_parameter_bytes(flatbuffer: bytes) -> dict[str, int]:
    """Bytes the file spends on quantization parameters: a float32 scale and an int64 zero point per channel (TFLite
    requires one zero point per scale), for every per-channel weight and its int32 bias, once per tensor else.

    This is why an int8 file can stay larger than a sparse float16 one whose weight bytes it beats: MediaPipe's
    face_detection_full_range_sparse spends 199,116 bytes of its int8 file on them (16,593 scales)."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    scales = zero_points = 0
    for graph in model.subgraphs:
        for tensor in graph.tensors:
            quant = tensor.quantization
            if quant is None or quant.scale is None:
                continue
            scales += len(quant.scale)
            zero_points += 0 if quant.zeroPoint is None else len(quant.zeroPoint)
    return {"bytes": 4 * scales + 8 * zero_points, "scales": scales, "zero_points": zero_points}


def same_outputs(first: bytes, second: bytes, seed: int = 0) -> bool:
    """Whether two models give bit-identical outputs on one seeded input (LiteRT with its default XNNPACK): a
    re-encoded file is kept only if it computes exactly what the dense one does."""
    from ai_edge_litert.interpreter import Interpreter

    from recipecc.passes.tf.common import quiet_native_stderr

    results = []
    for blob in (first, second):
        with quiet_native_stderr():
            interpreter = Interpreter(model_content=blob, num_threads=1)
            interpreter.allocate_tensors()
        rng = np.random.RandomState(seed)
        for detail in interpreter.get_input_details():
            dtype = np.dtype(detail["dtype"])
            if np.issubdtype(dtype, np.integer):
                info = np.iinfo(dtype)
                value = rng.randint(info.min, int(info.max) + 1, size=detail["shape"]).astype(dtype)
            else:
                value = rng.uniform(0.0, 1.0, size=detail["shape"]).astype(dtype)
            interpreter.set_tensor(detail["index"], value)
        interpreter.invoke()
        results.append([interpreter.get_tensor(d["index"]).copy() for d in interpreter.get_output_details()])
    return all(np.array_equal(a, b) for a, b in zip(*results, strict=True))
