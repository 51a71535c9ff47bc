"""Reading a few fields of a protobuf message from its bytes, without the message's schema or a framework.

The planner must not import Paddle (the compiler process never imports a framework), yet a user's Paddle inference
program says what input it takes. Protobuf's wire format is simple enough to walk: each field is a tag (field number
and wire type) followed by a varint, a fixed 4/8 bytes, or a length and that many bytes (a nested message, a
string or packed numbers). Malformed bytes raise ``ValueError``; nothing is executed and nothing is allocated beyond
views of the input.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["fields", "packed_or_single", "signed"]


def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            break
    raise ValueError("malformed varint")


def fields(data: bytes | memoryview) -> Iterator[tuple[int, int | memoryview]]:
    """``(field number, value)`` of each field: an int for varints and fixed numbers, a view for length-delimited."""
    view = memoryview(data)
    pos, end = 0, len(view)
    while pos < end:
        tag, pos = _varint(view, pos)
        wire, number = tag & 7, tag >> 3
        value: int | memoryview
        if wire == 0:
            value, pos = _varint(view, pos)
        elif wire == 1:
            value, pos = int.from_bytes(view[pos : pos + 8], "little"), pos + 8
        elif wire == 2:
            length, pos = _varint(view, pos)
            value, pos = view[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = int.from_bytes(view[pos : pos + 4], "little"), pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if number == 0 or pos > end:
            raise ValueError("truncated or not a protobuf message")
        yield number, value


def signed(value: int) -> int:
    """A varint read as int64 (protobuf writes negative int64 values as 10-byte two's complement)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def packed_or_single(value: int | memoryview) -> list[int]:
    """A repeated integer field's values from one occurrence: packed (a view of varints) or a single varint."""
    if isinstance(value, int):
        return [signed(value)]
    out, pos = [], 0
    while pos < len(value):
        number, pos = _varint(value, pos)
        out.append(signed(number))
    return out
