"""``deploy.convert``: the format step a runtime needs that recipecc does not run (Paddle Lite's ``opt``, SNPE's
``snpe-onnx-to-dlc``, a TensorRT engine build), planned as a node so the plan and the report say who does it.

It writes ``CONVERT.md`` with the command for this stage's model files and records ``done_here: false``; it never
writes the converted file (nothing here can produce it, and a fake one would look deployable).
"""

from __future__ import annotations

from typing import Any

from recipecc.passes.base import PassContext, read_artifact

__all__ = ["run"]


def run(ctx: PassContext) -> dict[str, Any]:
    p = ctx.params
    source = ctx.input("model")
    meta = read_artifact(source)
    files = [str(source / name) for name in meta.get("model_files", [])]
    who = "on the device, when the runtime loads the model" if p["where"] == "device" else "with your toolchain"
    text = (
        f"# {p['tool']} for stage '{p['stage']}' ({p['runtime']})\n\n"
        f"Not done by recipecc: run {who}.\n\n"
        f"Why: {p['why']}.\n\nModel files ({meta.get('format')}):\n\n"
        + "".join(f"- {name}\n" for name in files)
        + f"\nCommand:\n\n    {p['command']}\n"
    )
    (ctx.out_dir / "CONVERT.md").write_text(text)
    return {
        "format": "external-conversion",
        "tool": p["tool"],
        "where": p["where"],
        "command": p["command"],
        "from_format": meta.get("format"),
        "model_files": files,
        "done_here": False,
        "note": f"{p['tool']} runs {who}; recipecc did not produce the converted model",
    }
