"""``paddle.to_onnx``: a Paddle inference model as an ONNX model, with paddle2onnx (runs in the paddle worker).

The planner inserts it when a Paddle-built model targets ONNX Runtime. fp32, pruned and PTQ models saved with
``onnx_format=True`` convert (paddle2onnx 1.3.1; PTQ with ``onnx_format=False`` crashes it). The opset is chosen
by the planner (13 by default: per-channel QDQ quantization needs ``DequantizeLinear`` with ``axis``), and the
batch dimension stays dynamic as in the Paddle export.
"""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from typing import Any

from recipecc.passes.base import PassContext, PassFailure, read_artifact
from recipecc.passes.paddle.checkpoint import MODEL_FACTS
from recipecc.passes.quiet import quiet_stdout

__all__ = ["run"]

MODEL_FILE = "model.onnx"


def run(ctx: PassContext) -> dict[str, Any]:
    import paddle2onnx

    source = ctx.input("model")
    meta = read_artifact(source)
    if meta.get("format") != "paddle-inference":
        raise PassFailure(f"paddle2onnx converts Paddle inference models, got a '{meta.get('format')}' artifact")
    model_file, params_file = meta["model_files"]
    opset = int(ctx.params["opset"])
    out = ctx.out_dir / MODEL_FILE
    with quiet_stdout():
        paddle2onnx.export(
            str(source / model_file),
            str(source / params_file),
            save_file=str(out),
            opset_version=opset,
            auto_upgrade_opset=True,
            verbose=False,
            enable_onnx_checker=True,
            deploy_backend="onnxruntime",
        )
    if not out.is_file() or out.stat().st_size == 0:
        raise PassFailure("paddle2onnx wrote no model (see the worker's log)")
    from recipecc.passes.onnx.common import describe

    # the network's facts travel on (input_shape excepted: the ONNX model states its own)
    keep = (*(k for k in MODEL_FACTS if k != "input_shape"), "calibration")
    return {
        **{k: meta[k] for k in keep if k in meta},
        **describe(ctx.out_dir),
        "precision": meta.get("precision", "fp32"),
        "conversion": {"tool": f"paddle2onnx {paddle2onnx.__version__}", "from": "paddle-inference", "opset": opset},
    }
