"""``onnx.shape_prep``: ONNX Runtime's quantization pre-processing, with its fallback made visible.

``quant_pre_process`` runs symbolic shape inference, ONNX shape inference and ORT's basic graph optimizations
(Conv+BN folding and the like), which static quantization needs for good results. Symbolic shape inference fails
on some exported graphs (unsupported ops, shape arithmetic it cannot follow); then the pass retries once with
``skip_symbolic_shape=True`` and records it in the artifact (``shape_prep.symbolic``), so the report says which
path was taken instead of hiding it.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

from recipecc.passes.base import PassContext, PassFailure
from recipecc.passes.onnx.common import MODEL_FILE, describe, source_model

__all__ = ["run"]


def run(ctx: PassContext) -> dict[str, Any]:
    from onnxruntime.quantization.shape_inference import quant_pre_process

    path, meta = source_model(ctx.input("model"))
    out = ctx.out_dir / MODEL_FILE
    external = len(meta["model_files"]) > 1
    attempts: list[dict[str, Any]] = []
    for skip_symbolic in (False, True):
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                quant_pre_process(
                    str(path),
                    str(out),
                    skip_symbolic_shape=skip_symbolic,
                    save_as_external_data=external,
                    all_tensors_to_one_file=True,
                    external_data_location=f"{MODEL_FILE}.data",
                )
            attempts.append({"skip_symbolic_shape": skip_symbolic, "ok": True})
            break
        except Exception as exc:
            attempts.append(
                {"skip_symbolic_shape": skip_symbolic, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
            )
            out.unlink(missing_ok=True)
    else:
        raise PassFailure(f"quantization pre-processing failed even without symbolic shape inference: {attempts[-1]}")
    symbolic = "used" if not attempts[-1]["skip_symbolic_shape"] else "failed, fell back to skip_symbolic_shape=True"
    return {
        **describe(ctx.out_dir, meta),
        "precision": meta.get("precision", "fp32"),
        "shape_prep": {"symbolic": symbolic, "attempts": attempts},
    }
