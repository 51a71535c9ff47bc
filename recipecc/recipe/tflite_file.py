"""What a ``.tflite`` file holds, read from its bytes at plan time (no LiteRT in the compiler process).

Enough of the TFLite flatbuffer schema (``tensorflow/lite/schema/schema.fbs``) to decide before anything runs
whether ai-edge-quantizer can quantize a user's file: the main subgraph's inputs, whether its weights are already
int8, and which custom ops it uses. The walk follows FlatBuffers' documented layout (a table starts with the offset
of its vtable; fields are slots in that vtable; vectors start with their length) and checks every offset against
the file, so a damaged or hostile file gives ``None`` rather than an exception or a long loop.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["TfliteFile", "read_tflite"]

# schema.fbs slots: Model, OperatorCode, SubGraph, Tensor, Buffer
_MODEL_CODES, _MODEL_SUBGRAPHS, _MODEL_BUFFERS = 1, 2, 4
_CODE_DEPRECATED, _CODE_CUSTOM, _CODE_BUILTIN = 0, 1, 3
_GRAPH_TENSORS, _GRAPH_INPUTS = 0, 1
_TENSOR_SHAPE, _TENSOR_TYPE, _TENSOR_BUFFER, _TENSOR_NAME, _TENSOR_SHAPE_SIGNATURE = 0, 1, 2, 3, 7
_BUFFER_DATA, _BUFFER_SIZE = 0, 2
_CUSTOM = 32
#: TensorType values
_TYPE_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 7: "int16", 9: "int8"}
_INTEGER_WEIGHTS = (3, 9, 17)  # uint8, int8, int4


class _Malformed(Exception):
    pass


class _Reader:
    def __init__(self, data: bytes | mmap.mmap) -> None:
        self.data = data

    def _unpack(self, fmt: str, pos: int) -> int:
        if pos < 0 or pos + struct.calcsize(fmt) > len(self.data):
            raise _Malformed
        value: int = struct.unpack_from(fmt, self.data, pos)[0]
        return value

    def _slot(self, table: int, slot: int) -> int:
        """The position of a field of ``table``, or 0 when the field is absent."""
        vtable = table - self._unpack("<i", table)
        size = self._unpack("<H", vtable)
        if 4 + 2 * slot >= size:
            return 0
        offset = self._unpack("<H", vtable + 4 + 2 * slot)
        return table + offset if offset else 0

    def scalar(self, table: int, slot: int, fmt: str, default: int = 0) -> int:
        pos = self._slot(table, slot)
        return self._unpack(fmt, pos) if pos else default

    def ref(self, table: int, slot: int) -> int:
        pos = self._slot(table, slot)
        return pos + self._unpack("<I", pos) if pos else 0

    def length(self, vector: int) -> int:
        count = self._unpack("<I", vector) if vector else 0
        if count > len(self.data):
            raise _Malformed
        return count

    def tables(self, vector: int) -> list[int]:
        first = vector + 4
        return [first + 4 * i + self._unpack("<I", first + 4 * i) for i in range(self.length(vector))]

    def ints(self, vector: int) -> list[int]:
        return [self._unpack("<i", vector + 4 + 4 * i) for i in range(self.length(vector))]

    def string(self, table: int, slot: int) -> str:
        pos = self.ref(table, slot)
        if not pos:
            return ""
        count = self.length(pos)
        return bytes(self.data[pos + 4 : pos + 4 + count]).decode("utf-8", "replace")


@dataclass(frozen=True)
class TfliteFile:
    """The facts about a ``.tflite`` file the planner uses."""

    #: (name, element type) of the main subgraph's inputs
    inputs: list[tuple[str, str]] = field(default_factory=list)
    #: their shapes (None for a dynamic dimension: ``shape_signature`` -1)
    input_shapes: list[list[int | None]] = field(default_factory=list)
    #: constant tensors stored as 8-bit (or 4-bit) integers: the file is quantized already
    integer_weights: int = 0
    custom_ops: list[str] = field(default_factory=list)


def _summarise(reader: _Reader) -> TfliteFile:
    model = reader._unpack("<I", 0)
    custom = []
    for code in reader.tables(reader.ref(model, _MODEL_CODES)):
        builtin = max(reader.scalar(code, _CODE_BUILTIN, "<i"), reader.scalar(code, _CODE_DEPRECATED, "<b"))
        if builtin == _CUSTOM:
            custom.append(reader.string(code, _CODE_CUSTOM))
    buffers = reader.tables(reader.ref(model, _MODEL_BUFFERS))
    graphs = reader.tables(reader.ref(model, _MODEL_SUBGRAPHS))
    if not graphs:
        raise _Malformed
    tensors = reader.tables(reader.ref(graphs[0], _GRAPH_TENSORS))
    inputs, shapes = [], []
    for index in reader.ints(reader.ref(graphs[0], _GRAPH_INPUTS)):
        if not 0 <= index < len(tensors):
            raise _Malformed
        kind = reader.scalar(tensors[index], _TENSOR_TYPE, "<b")
        inputs.append((reader.string(tensors[index], _TENSOR_NAME), _TYPE_NAMES.get(kind, str(kind))))
        dims = reader.ints(reader.ref(tensors[index], _TENSOR_SHAPE_SIGNATURE)) or reader.ints(
            reader.ref(tensors[index], _TENSOR_SHAPE)
        )
        shapes.append([d if d > 0 else None for d in dims])
    integer = 0
    for tensor in tensors:
        buffer = reader.scalar(tensor, _TENSOR_BUFFER, "<I")
        if reader.scalar(tensor, _TENSOR_TYPE, "<b") not in _INTEGER_WEIGHTS or not 0 < buffer < len(buffers):
            continue
        stored = reader.length(reader.ref(buffers[buffer], _BUFFER_DATA))
        if stored or reader.scalar(buffers[buffer], _BUFFER_SIZE, "<Q"):
            integer += 1
    return TfliteFile(inputs=inputs, input_shapes=shapes, integer_weights=integer, custom_ops=sorted(set(custom)))


def read_tflite(path: str | Path) -> TfliteFile | None:
    """The file's facts, or None when it cannot be read as a TFLite flatbuffer (the run then says why)."""
    try:
        with (
            open(Path(path).expanduser(), "rb") as handle,
            mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data,
        ):
            return _summarise(_Reader(data))
    except (OSError, ValueError, _Malformed, struct.error):
        return None
