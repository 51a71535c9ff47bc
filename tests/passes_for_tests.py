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
