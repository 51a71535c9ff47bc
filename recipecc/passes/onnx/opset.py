"""``onnx.opset_upgrade``: raise the default-domain opset when a later pass needs a newer one.

Per-channel QDQ quantization writes ``DequantizeLinear`` with an ``axis`` attribute, which exists from opset 13;
on an opset 11/12 model (common among older exports) ONNX Runtime's quantizer produces a graph that does not load.
The planner cannot read a file's opset without importing onnx, so it inserts this pass whenever per-channel QDQ is
asked for on a user's file; here it is a recorded no-op when the opset is already new enough.
"""

from __future__ import annotations

import shutil
from typing import Any

import onnx
from onnx import version_converter

from recipecc.passes.base import PassContext, PassFailure
from recipecc.passes.onnx.common import describe, opset_of, save_model, source_model

__all__ = ["run"]


def run(ctx: PassContext) -> dict[str, Any]:
    target = int(ctx.params["min_opset"])
    path, meta = source_model(ctx.input("model"))
    model = onnx.load(str(path))
    before = opset_of(model)
    if before >= target:
        for name in meta["model_files"]:
            shutil.copy2(path.parent / name, ctx.out_dir / name)
        upgrade = {"from": before, "to": before, "changed": False, "why": f"opset {before} >= {target}: no-op"}
    else:
        try:
            upgraded = version_converter.convert_version(model, target)
            onnx.checker.check_model(upgraded)
        except Exception as exc:
            raise PassFailure(
                f"upgrading the opset {before} -> {target} failed ({type(exc).__name__}: {exc}); "
                "per-channel QDQ needs opset >= 13: re-export the model with a newer opset, or set "
                "strategy.quant.weight_per_channel=false"
            ) from None
        save_model(upgraded, ctx.out_dir)
        upgrade = {"from": before, "to": opset_of(upgraded), "changed": True, "why": f"needs opset >= {target}"}
    return {
        **describe(ctx.out_dir, meta),
        "precision": meta.get("precision", "fp32"),
        "opset_upgrade": upgrade,
    }
