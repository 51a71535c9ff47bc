"""Pass entry points that misbehave on purpose, to test how the engine contains failures."""

from __future__ import annotations

from typing import Any

from recipecc.passes.base import PassContext


def segfault(ctx: PassContext) -> dict[str, Any]:
    import ctypes

    (ctx.out_dir / "half-written.bin").write_bytes(b"partial")
    ctypes.string_at(0)  # reads address 0: the worker process dies with SIGSEGV
    return {}


def fail(ctx: PassContext) -> dict[str, Any]:
    raise ValueError(f"bad value {ctx.params.get('value')}")


def echo(ctx: PassContext) -> dict[str, Any]:
    (ctx.out_dir / "out.txt").write_text(str(dict(ctx.params)))
    return {"params": dict(ctx.params)}


def counted(ctx: PassContext) -> dict[str, Any]:
    """Appends one line to ``params['counter']`` per execution (outside the cache, so tests can count runs),
    waits ``params['hold']`` seconds so a concurrent run overlaps, then writes its output."""
    import time
    from pathlib import Path

    with Path(str(ctx.params["counter"])).open("a") as handle:
        handle.write(f"{ctx.node_id}\n")
    time.sleep(float(ctx.params.get("hold", 0)))
    (ctx.out_dir / "model.bin").write_bytes(b"weights" * 100)
    return {"format": "test"}


def stray(ctx: PassContext) -> dict[str, Any]:
    """Writes into the current folder, as onnxruntime's symbolic shape inference does (sym_shape_infer_temp.onnx)."""
    from pathlib import Path

    Path("sym_shape_infer_temp.onnx").write_bytes(b"temp")
    (ctx.out_dir / "model.bin").write_bytes(b"ok")
    return {"format": "test"}
