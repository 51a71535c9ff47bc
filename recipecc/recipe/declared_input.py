"""The input shape a model file declares, read at plan time without importing a framework.

A user's model file says what it takes: a ``.keras`` archive's ``config.json`` and a ``.h5`` file's
``model_config`` name the input layer's batch shape, a ``.tflite`` flatbuffer holds its input tensor's shape
(``tflite_file.read_tflite``), a Paddle inference program (``.pdmodel``) the shape of the variable its first
``feed`` op writes (walked with ``protobuf_fields``; -1 is a free dimension), an ONNX model its first graph input
that is not an initializer (a named ``dim_param`` or a missing ``dim_value`` is a free dimension). The planner
uses it to give the default data the channel count (and, where fixed and square, the size) the model takes,
instead of assuming 1-channel digits and failing at run time. Unreadable or undeclared: ``None`` (the planner
then keeps its conventions and ``model.input_shape`` can say it).
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from recipecc.recipe.protobuf_fields import fields, packed_or_single
from recipecc.recipe.tflite_file import read_tflite

__all__ = ["declared_input_shape"]

log = logging.getLogger(__name__)

#: a declared shape: None for a dynamic dimension
Shape = list[int | None]


def declared_input_shape(path: str | Path) -> Shape | None:
    """The (first) input shape ``path`` declares, batch dimension included, or None when it declares none."""
    file = Path(path).expanduser()
    suffix = file.suffix.lower()
    try:
        if suffix == ".keras":
            with zipfile.ZipFile(file) as archive:
                return _from_keras_config(json.loads(archive.read("config.json")))
        if suffix == ".h5":
            import h5py

            with h5py.File(file, "r") as handle:
                raw = handle.attrs.get("model_config")
            if raw is None:
                return None
            return _from_keras_config(json.loads(raw.decode() if isinstance(raw, bytes) else raw))
        if suffix == ".tflite":
            facts = read_tflite(file)
            return facts.input_shapes[0] if facts is not None and facts.input_shapes else None
        if suffix == ".pdmodel" or file.name == "__model__":
            return paddle_feed_shape(file.read_bytes())
        if suffix == ".onnx":
            return onnx_input_shape(file.read_bytes())
    except (OSError, ValueError, KeyError, IndexError, zipfile.BadZipFile, ImportError) as exc:
        log.debug("cannot read the input shape of %s: %s", file, exc)
    return None


def _input_layers(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("class_name") == "InputLayer" and isinstance(node.get("config"), dict):
            yield node["config"]
        for value in node.values():
            yield from _input_layers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _input_layers(item)


def _from_keras_config(config: Any) -> Shape | None:
    """The first InputLayer's batch shape (``batch_shape`` in Keras 3, ``batch_input_shape`` in tf_keras)."""
    for layer in _input_layers(config):
        shape = layer.get("batch_shape") or layer.get("batch_input_shape")
        if isinstance(shape, list) and shape:
            return [int(d) if isinstance(d, int) and d > 0 else None for d in shape]
    return None


def _text(value: int | memoryview) -> str:
    return bytes(value).decode("utf-8", "replace") if isinstance(value, memoryview) else ""


def _nested(value: int | memoryview, number: int) -> list[int | memoryview]:
    """The values of field ``number`` in the nested message ``value`` (none when ``value`` is not a message)."""
    if not isinstance(value, memoryview):
        return []
    return [v for n, v in fields(value) if n == number]


def paddle_feed_shape(program: bytes) -> Shape | None:
    """The shape of the first input a Paddle ``ProgramDesc`` feeds (framework.proto: blocks=1; BlockDesc vars=3,
    ops=4; VarDesc name=1, type=2; VarType lod_tensor=3; LoDTensorDesc tensor=1; TensorDesc dims=2; OpDesc type=3,
    outputs=2; OpDesc.Var arguments=2)."""
    blocks = [v for n, v in fields(program) if n == 1 and isinstance(v, memoryview)]
    if not blocks:
        return None
    dims: dict[str, list[int]] = {}
    fed: list[str] = []
    for number, value in fields(blocks[0]):
        if number == 3:  # VarDesc
            name = next((_text(v) for v in _nested(value, 1)), "")
            for var_type in _nested(value, 2):
                for lod_tensor in _nested(var_type, 3):
                    for tensor in _nested(lod_tensor, 1):
                        dims[name] = [d for v in _nested(tensor, 2) for d in packed_or_single(v)]
        elif number == 4 and any(_text(v) == "feed" for v in _nested(value, 3)):  # OpDesc of type feed
            fed += [_text(arg) for out in _nested(value, 2) for arg in _nested(out, 2)]
    shape = next((dims[name] for name in fed if name in dims), None)
    return None if shape is None else [d if d > 0 else None for d in shape]


def onnx_input_shape(model: bytes) -> Shape | None:
    """The shape of an ONNX model's first real input (onnx.proto: ModelProto graph=7; GraphProto initializer=5,
    input=11; TensorProto name=8; ValueInfoProto name=1, type=2; TypeProto tensor_type=1; TypeProto.Tensor
    shape=2; TensorShapeProto dim=1; Dimension dim_value=1, dim_param=2). Older exporters list the weights among
    the inputs too: those are skipped."""
    graphs = [v for n, v in fields(model) if n == 7 and isinstance(v, memoryview)]
    if not graphs:
        return None
    weights: set[str] = set()
    inputs: list[memoryview] = []
    for number, value in fields(graphs[0]):
        if number == 5 and isinstance(value, memoryview):
            weights.update(_text(v) for v in _nested(value, 8))
        elif number == 11 and isinstance(value, memoryview):
            inputs.append(value)
    for value_info in inputs:
        if next((_text(v) for v in _nested(value_info, 1)), "") in weights:
            continue
        for type_proto in _nested(value_info, 2):
            for tensor in _nested(type_proto, 1):
                for shape in _nested(tensor, 2):
                    return [_dim(dim) for dim in _nested(shape, 1)]
        return None  # the first real input is not a tensor, or its shape is unknown
    return None


def _dim(dimension: int | memoryview) -> int | None:
    """A ``TensorShapeProto.Dimension``'s fixed size, or None when it is named or missing."""
    values = [v for v in _nested(dimension, 1) if isinstance(v, int)]
    return values[0] if values and 0 < values[0] < 1 << 31 else None
