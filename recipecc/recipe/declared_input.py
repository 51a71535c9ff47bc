"""The input shape a Keras or TFLite model file declares, read at plan time without importing a framework.

A user's model file says what it takes: a ``.keras`` archive's ``config.json`` and a ``.h5`` file's
``model_config`` name the input layer's batch shape, a ``.tflite`` flatbuffer holds its input tensor's shape. The
planner uses it to give the default data the channel count (and, where fixed and square, the size) the model takes,
instead of assuming 1-channel digits and failing at run time. Unreadable or undeclared: ``None`` (the planner then
keeps its conventions and ``model.input_shape`` can say it).
"""

from __future__ import annotations

import json
import logging
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
            return _tflite_input_shape(file.read_bytes())
    except (OSError, ValueError, KeyError, IndexError, struct.error, zipfile.BadZipFile, ImportError) as exc:
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


class _Table:
    """A flatbuffer table: fields by their index in the schema (``tensorflow/lite/schema/schema.fbs``)."""

    def __init__(self, data: bytes, position: int) -> None:
        self.data, self.position = data, position
        vtable = position - struct.unpack_from("<i", data, position)[0]
        self.vtable_size = struct.unpack_from("<H", data, vtable)[0]
        self.vtable = vtable

    def _field(self, index: int) -> int | None:
        entry = 4 + 2 * index
        if entry >= self.vtable_size:
            return None
        offset = struct.unpack_from("<H", self.data, self.vtable + entry)[0]
        return self.position + offset if offset else None

    def _vector(self, index: int) -> tuple[int, int] | None:
        """(first element's position, length) of a vector field."""
        field = self._field(index)
        if field is None:
            return None
        start = field + struct.unpack_from("<I", self.data, field)[0]
        return start + 4, struct.unpack_from("<I", self.data, start)[0]

    def ints(self, index: int) -> list[int] | None:
        vector = self._vector(index)
        if vector is None:
            return None
        start, length = vector
        return list(struct.unpack_from(f"<{length}i", self.data, start))

    def table(self, index: int, element: int) -> _Table:
        vector = self._vector(index)
        if vector is None or element >= vector[1]:
            raise IndexError(f"no element {element} in field {index}")
        slot = vector[0] + 4 * element
        return _Table(self.data, slot + struct.unpack_from("<I", self.data, slot)[0])


def _tflite_input_shape(data: bytes) -> Shape | None:
    """Model.subgraphs[0] (field 2) -> SubGraph.inputs[0] (field 1) -> tensors[i] (field 0) -> shape_signature
    (field 7, -1 for dynamic) or shape (field 0)."""
    if data[4:8] != b"TFL3":
        return None
    model = _Table(data, struct.unpack_from("<I", data, 0)[0])
    subgraph = model.table(2, 0)
    inputs = subgraph.ints(1)
    if not inputs:
        return None
    tensor = subgraph.table(0, inputs[0])
    shape = tensor.ints(7) or tensor.ints(0)
    if not shape:
        return None
    return [d if d > 0 else None for d in shape]
