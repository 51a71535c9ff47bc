"""What every ONNX pass shares: reading an upstream ONNX artifact, saving a model, describing it.

An ONNX artifact is a folder with ``model.onnx`` (and ``model.onnx.data`` when the weights are stored as external
data, as exporters do for models over 2 GB) plus ``artifact.json`` with ``format: onnx``, the opset and the
input/output names and shapes. Passes hand each other files, never in-memory models, so every step is cached.
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import onnx

from recipecc.passes.base import PassFailure, read_artifact

__all__ = [
    "MODEL_FILE",
    "constant_tensors",
    "describe",
    "gzip_size",
    "model_files",
    "op_histogram",
    "opset_of",
    "save_model",
    "source_model",
]

MODEL_FILE = "model.onnx"
EXTERNAL_FILE = "model.onnx.data"
#: models above this size are saved with external data (protobuf's hard limit is 2 GB)
_EXTERNAL_THRESHOLD = 1_800_000_000


#: facts about the model that survive format-preserving passes (shown in the report's model table)
_INHERITED = ("arch", "width", "num_classes", "params", "flops", "source", "conversion", "loaded")


def source_model(folder: Path) -> tuple[Path, dict[str, Any]]:
    """The ONNX file of an upstream artifact and its metadata; fails clearly if it is not an ONNX artifact."""
    meta = read_artifact(folder)
    if meta.get("format") != "onnx":
        raise PassFailure(f"needs an ONNX model, got a '{meta.get('format')}' artifact")
    return folder / str(meta["model_files"][0]), meta


def constant_tensors(model: onnx.ModelProto) -> dict[str, onnx.TensorProto]:
    """Every constant tensor of the main graph by the value name nodes read it under: initializers and the
    ``value`` of ``Constant`` nodes (exporters use either). The protos are the model's own: editing one edits
    the model."""
    tensors = {init.name: init for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type != "Constant" or not node.output:
            continue
        for attribute in node.attribute:
            if attribute.name == "value" and attribute.type == onnx.AttributeProto.TENSOR:
                tensors[node.output[0]] = attribute.t
    return tensors


def opset_of(model: onnx.ModelProto) -> int:
    """The default-domain (ai.onnx) opset version, which decides what ops and attributes are legal."""
    return next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def op_histogram(model: onnx.ModelProto) -> dict[str, int]:
    return dict(Counter(node.op_type for node in model.graph.node).most_common())


def _dims(value: onnx.ValueInfoProto) -> list[int | str]:
    dims: list[int | str] = []
    for dim in value.type.tensor_type.shape.dim:
        if dim.HasField("dim_value"):
            dims.append(int(dim.dim_value))
        else:
            dims.append(dim.dim_param or "?")
    return dims


def _io(values: Any, initializers: set[str]) -> list[dict[str, Any]]:
    return [
        {
            "name": v.name,
            "shape": _dims(v),
            "dtype": onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type).name,
        }
        for v in values
        if v.name not in initializers
    ]


def save_model(model: onnx.ModelProto, out_dir: Path) -> list[str]:
    """Save as ``model.onnx`` (external data beyond protobuf's limit); returns the files written."""
    try:
        big = model.ByteSize() > _EXTERNAL_THRESHOLD
    except Exception:  # some protobuf builds refuse to size a message over 2 GB at all
        big = True
    path = out_dir / MODEL_FILE
    if big:
        onnx.save_model(model, str(path), save_as_external_data=True, location=EXTERNAL_FILE)
        return [MODEL_FILE, EXTERNAL_FILE]
    onnx.save_model(model, str(path))
    return [MODEL_FILE]


def model_files(out_dir: Path) -> list[str]:
    """The files of a saved model (``model.onnx`` and its external data, if any)."""
    return [name for name in (MODEL_FILE, EXTERNAL_FILE) if (out_dir / name).is_file()]


def gzip_size(out_dir: Path, files: list[str]) -> int:
    """Bytes after gzip (level 6): what zeros from unstructured pruning save in storage or download."""
    return sum(len(gzip.compress((out_dir / name).read_bytes(), compresslevel=6)) for name in files)


def describe(out_dir: Path, inherited: Mapping[str, Any] | None = None, **facts: Any) -> dict[str, Any]:
    """The artifact metadata of the model saved in ``out_dir``: format, files, size, opset, inputs/outputs."""
    files = model_files(out_dir)
    model = onnx.load(str(out_dir / MODEL_FILE), load_external_data=False)
    initializers = {init.name for init in model.graph.initializer}
    inputs = _io(model.graph.input, initializers)
    if not inputs:
        raise PassFailure("the ONNX model has no graph input")
    keep = {k: v for k, v in (inherited or {}).items() if k in _INHERITED}
    return {
        **keep,
        "format": "onnx",
        "model_files": files,
        "size_bytes": sum((out_dir / name).stat().st_size for name in files),
        "opset": opset_of(model),
        "ir_version": int(model.ir_version),
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "inputs": inputs,
        "outputs": _io(model.graph.output, set()),
        "input_name": inputs[0]["name"],
        "input_shape": inputs[0]["shape"],
        "ops": op_histogram(model),
        **facts,
    }
