"""Make a user's ``.tflite`` file something ai-edge-quantizer can quantize, without changing what it computes.

Four things real files (MediaPipe's, older converters') do that ai-edge-quantizer 0.10 does not handle, each found
on the ``.tflite`` files shipped in the mediapipe wheel:

- **Operator codes in the deprecated field.** Flatbuffers written before TFLite schema 3a keep an operator's code
  in ``deprecated_builtin_code`` (int8) and leave ``builtin_code`` at 0, which is ``ADD``. LiteRT reads
  ``max(builtin_code, deprecated_builtin_code)`` (``schema_utils.cc:GetBuiltinCode``); the quantizer reads
  ``builtin_code`` only, so every convolution looks like an ``ADD`` it does not quantize and the file comes back
  unchanged (iris_landmark: 2,640,568 -> 2,641,408 bytes). Fixed here by writing the real code into both fields.
- **Weights stored as float16 (or sparse) and expanded at run time** by ``DEQUANTIZE`` / ``DENSIFY`` ops on
  constants: the convolution's weight is then not a constant, so weight-only and dynamic recipes skip it and the
  static recipe fails inside its calibrator. Fixed by constant-folding those ops: LiteRT itself computes their
  outputs (builtin kernels, every tensor kept), which become float32 constants.
- **Activations as ops of their own** (``ADD`` then ``RELU``): the int8 ``RELU`` that results is not an op
  XNNPACK's delegate takes, so the int8 model switches between XNNPACK and TFLite's kernels at every one. Fused
  into the producer's ``fused_activation_function``, as the converter does (``_fuse_activations``).
- **No signature.** The quantizer calibrates through a signature runner; files without a ``SignatureDef`` cannot
  be calibrated. Fixed by adding one (key ``serving_default``) over the main subgraph's inputs and outputs.

Every change is recorded in the returned facts (the report lists them).
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from recipecc.passes.base import PassFailure
from recipecc.passes.tf.common import quiet_native_stderr

__all__ = ["SIGNATURE_KEY", "op_summary", "prepare"]

logger = logging.getLogger(__name__)

#: the signature key added to a file without one
SIGNATURE_KEY = "serving_default"
_FOLDABLE = ("DEQUANTIZE", "DENSIFY")


def _schema() -> Any:
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def _op_names() -> dict[int, str]:
    codes = _schema().BuiltinOperator
    return {value: name for name, value in vars(codes).items() if not name.startswith("_")}


def _text(name: Any) -> str:
    return name.decode() if isinstance(name, bytes) else str(name)


def _is_constant(model: Any, tensor: Any) -> bool:
    data = model.buffers[tensor.buffer].data if tensor.buffer else None
    return data is not None and len(data) > 0


def _fix_operator_codes(model: Any) -> int:
    fixed = 0
    for code in model.operatorCodes:
        real = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
        if code.builtinCode != real:
            code.builtinCode = real
            fixed += 1
    return fixed


def _fold_constants(model: Any, source: Path, sparse: dict[str, int]) -> Counter[str]:
    """Replace DEQUANTIZE / DENSIFY ops of constants in the main subgraph by float32 constants LiteRT computed.

    ``sparse`` receives what the DENSIFY'd weights held: tensors, values once dense, nonzero values. The folded
    constants are dense, and ai-edge-quantizer writes dense int8 weights: a sparse file's zeros come back."""
    names = _op_names()
    graph = model.subgraphs[0]
    constant = {i for i, tensor in enumerate(graph.tensors) if _is_constant(model, tensor)}
    folded = []
    for op in graph.operators:
        name = names.get(int(model.operatorCodes[op.opcodeIndex].builtinCode), "")
        if name in _FOLDABLE and all(i in constant for i in op.inputs if i >= 0):
            folded.append(op)
            constant.update(int(i) for i in op.outputs)
    if not folded:
        return Counter()
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    try:
        with quiet_native_stderr():
            interpreter = Interpreter(
                model_path=str(source),
                experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
                experimental_preserve_all_tensors=True,
            )
            interpreter.allocate_tensors()
            for detail in interpreter.get_input_details():
                interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], dtype=detail["dtype"]))
            interpreter.invoke()
    except (RuntimeError, ValueError) as exc:
        raise PassFailure(f"LiteRT cannot run {source.name} to expand its stored weights: {exc}") from exc
    schema = _schema()
    for op in folded:
        densify = names[int(model.operatorCodes[op.opcodeIndex].builtinCode)] == "DENSIFY"
        for index in op.outputs:
            value = np.ascontiguousarray(interpreter.get_tensor(int(index)))
            if densify:
                sparse["tensors"] = sparse.get("tensors", 0) + 1
                sparse["values"] = sparse.get("values", 0) + int(value.size)
                sparse["nonzero"] = sparse.get("nonzero", 0) + int(np.count_nonzero(value))
            # a sparse float16 weight is DENSIFY'd to float16, then DEQUANTIZE'd to float32: both fold
            types = {np.dtype(np.float32): schema.TensorType.FLOAT32, np.dtype(np.float16): schema.TensorType.FLOAT16}
            if value.dtype not in types:
                raise PassFailure(
                    f"{source.name}: a {names[int(model.operatorCodes[op.opcodeIndex].builtinCode)]} op of a "
                    f"constant gives {value.dtype}; recipecc folds float16 and sparse float weights only"
                )
            buffer = schema.BufferT()
            buffer.data = np.frombuffer(value.tobytes(), dtype=np.uint8)
            model.buffers.append(buffer)
            tensor = graph.tensors[int(index)]
            tensor.buffer = len(model.buffers) - 1
            tensor.type = types[value.dtype]
            tensor.sparsity = None
    folded_ids = {id(op) for op in folded}
    graph.operators = [op for op in graph.operators if id(op) not in folded_ids]
    _drop_unused_tensors(model)
    return Counter(names[int(model.operatorCodes[op.opcodeIndex].builtinCode)] for op in folded)


#: standalone activation op -> the fused activation that computes the same (``ActivationFunctionType``)
_FUSABLE_ACTIVATIONS = {"RELU": "RELU", "RELU6": "RELU6", "RELU_N1_TO_1": "RELU_N1_TO_1"}


def _fuse_activations(model: Any) -> Counter[str]:
    """Fold a standalone RELU / RELU6 into the op that produces its input, as the TFLite converter does.

    MediaPipe's files keep ``ADD`` then ``RELU`` as two ops (float XNNPACK runs both). After int8 quantization the
    ``RELU`` stays a separate int8 op, which XNNPACK's delegate does not take: face_detection_short_range ran
    17 such ops on TFLite's own kernels, split XNNPACK into 18 partitions and was 5x slower than fp32. Fused, the
    producer's output is the activation's (same values, same tensor), and int8 kernels clamp in the requantization.
    Only when the producer has a ``fused_activation_function`` that is ``NONE`` and the intermediate tensor feeds
    nothing else and is not a model output."""
    names = _op_names()
    activation = _schema().ActivationFunctionType
    graph = model.subgraphs[0]

    def op_name(op: Any) -> str:
        code = model.operatorCodes[op.opcodeIndex]
        return names.get(max(int(code.builtinCode), int(code.deprecatedBuiltinCode)), "CUSTOM")

    producer = {int(t): op for op in graph.operators for t in op.outputs}
    readers = Counter(int(t) for op in graph.operators for t in op.inputs if t >= 0)
    outputs = {int(t) for t in graph.outputs}
    fused: Counter[str] = Counter()
    removed: list[Any] = []
    for op in graph.operators:
        kind = op_name(op)
        if kind not in _FUSABLE_ACTIVATIONS or len(op.inputs) != 1:
            continue
        source = int(op.inputs[0])
        before = producer.get(source)
        options: Any = getattr(before, "builtinOptions", None)
        if (
            before is None
            or readers[source] != 1
            or source in outputs
            or getattr(options, "fusedActivationFunction", None) != activation.NONE
        ):
            continue
        options.fusedActivationFunction = getattr(activation, _FUSABLE_ACTIVATIONS[kind])
        before.outputs = list(op.outputs)
        for tensor in op.outputs:
            producer[int(tensor)] = before
        removed.append(op)
        fused[f"{op_name(before)}+{kind}"] += 1
    graph.operators = [op for op in graph.operators if not any(op is r for r in removed)]
    return fused


def _drop_unused_tensors(model: Any) -> None:
    """Remove the main subgraph's tensors no op reads or writes (the float16 / sparse originals of folded weights),
    and their bytes: the quantizer's calibrator reads every tensor, and an unread one has no data."""
    graph = model.subgraphs[0]

    def indices(op: Any) -> list[int]:
        return [int(i) for i in (*op.inputs, *op.outputs, *(op.intermediates or ())) if i >= 0]

    used = sorted(
        {i for op in graph.operators for i in indices(op)} | {int(i) for i in (*graph.inputs, *graph.outputs)}
    )
    new_index = {old: new for new, old in enumerate(used)}
    dropped = [tensor for i, tensor in enumerate(graph.tensors) if i not in new_index]
    graph.tensors = [graph.tensors[i] for i in used]
    for op in graph.operators:
        op.inputs = [new_index[int(i)] if i >= 0 else -1 for i in op.inputs]
        op.outputs = [new_index[int(i)] for i in op.outputs]
        if op.intermediates is not None and len(op.intermediates):
            op.intermediates = [new_index[int(i)] if i >= 0 else -1 for i in op.intermediates]
    graph.inputs = [new_index[int(i)] for i in graph.inputs]
    graph.outputs = [new_index[int(i)] for i in graph.outputs]
    for signature in model.signatureDefs or ():
        if int(signature.subgraphIndex) == 0:
            for entry in (*(signature.inputs or ()), *(signature.outputs or ())):
                entry.tensorIndex = new_index[int(entry.tensorIndex)]
    kept = {tensor.buffer for sub in model.subgraphs for tensor in sub.tensors}
    for tensor in dropped:
        if tensor.buffer and tensor.buffer not in kept:
            model.buffers[tensor.buffer].data = None


def _add_signature(model: Any) -> bool:
    if model.signatureDefs:
        return False
    schema = _schema()
    graph = model.subgraphs[0]

    def entry(index: int) -> Any:
        mapping = schema.TensorMapT()
        mapping.name = _text(graph.tensors[index].name)
        mapping.tensorIndex = int(index)
        return mapping

    signature = schema.SignatureDefT()
    signature.signatureKey = SIGNATURE_KEY
    signature.subgraphIndex = 0
    signature.inputs = [entry(int(i)) for i in graph.inputs]
    signature.outputs = [entry(int(i)) for i in graph.outputs]
    model.signatureDefs = [signature]
    return True


def _signature_key(model: Any) -> str:
    for signature in model.signatureDefs:
        if int(signature.subgraphIndex) == 0:
            return _text(signature.signatureKey)
    raise PassFailure("the model's signatures do not cover its main subgraph: it cannot be calibrated")


def prepare(source: Path) -> tuple[bytes, str, dict[str, Any]]:
    """``(flatbuffer, signature key, facts)``: ``source`` made quantizable, computing the same function."""
    from ai_edge_litert.tools import flatbuffer_utils

    try:
        model = flatbuffer_utils.read_model(source)
    except Exception as exc:  # the flatbuffer reader raises many types on a damaged file
        raise PassFailure(f"cannot read {source.name} as a TFLite flatbuffer ({type(exc).__name__}: {exc})") from exc
    facts: dict[str, Any] = {}
    fixed = _fix_operator_codes(model)
    if fixed:
        facts["operator_codes_fixed"] = fixed
        logger.info("%s: %d operator codes moved out of the deprecated field", source.name, fixed)
    sparse: dict[str, int] = {}
    folded = _fold_constants(model, source, sparse)
    if folded:
        facts["constants_folded"] = dict(folded)
    fused = _fuse_activations(model)
    if fused:
        _drop_unused_tensors(model)
        facts["activations_fused"] = dict(fused)
    if sparse:
        facts["sparse_weights"] = sparse
    if _add_signature(model):
        facts["signature_added"] = SIGNATURE_KEY
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)), _signature_key(model), facts


def op_summary(flatbuffer: bytes) -> dict[str, dict[str, int]]:
    """Per op type of the main subgraph: how many ops, and how many compute in int8 (an int8 input or output).

    QUANTIZE / DEQUANTIZE are conversions, counted on their own: many of them around float ops mean the model
    switches precision often, which costs time.
    """
    from ai_edge_litert.tools import flatbuffer_utils

    names = _op_names()
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    graph = model.subgraphs[0]
    integer = (_schema().TensorType.INT8, _schema().TensorType.INT16)
    summary: dict[str, dict[str, int]] = {}
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        name = names.get(max(int(code.builtinCode), int(code.deprecatedBuiltinCode)), "CUSTOM")
        row = summary.setdefault(name, {"ops": 0, "int8": 0})
        row["ops"] += 1
        tensors = [graph.tensors[int(i)] for i in (*op.inputs, *op.outputs) if i >= 0]
        if name not in ("QUANTIZE", "DEQUANTIZE") and any(t.type in integer for t in tensors):
            row["int8"] += 1
    return dict(sorted(summary.items(), key=lambda item: -item[1]["ops"]))
