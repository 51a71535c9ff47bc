"""``paddle.to_onnx``: a Paddle inference model as an ONNX model, with paddle2onnx (runs in the paddle worker).

The planner inserts it when a Paddle-built model targets ONNX Runtime. fp32, pruned and PTQ models saved with
``onnx_format=True`` convert (paddle2onnx 1.3.1; PTQ with ``onnx_format=False`` crashes it). The opset is chosen
by the planner (13 by default: per-channel QDQ quantization needs ``DequantizeLinear`` with ``axis``), and the
batch dimension stays dynamic as in the Paddle export. Adaptive average pools that paddle2onnx cannot express
exactly (input smaller than the bins, or not a multiple of them) are rewritten exactly after the export
(:func:`recipecc.passes.onnx.rewrite.exact_adaptive_pools`) and recorded under ``conversion.rewritten``.
"""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from pathlib import Path
from typing import Any

from recipecc.passes.base import PassContext, PassFailure, read_artifact
from recipecc.passes.paddle.checkpoint import MODEL_FACTS
from recipecc.passes.quiet import quiet_stdout

__all__ = ["run"]

MODEL_FILE = "model.onnx"


def adaptive_average_pools(program_file: Path) -> dict[str, tuple[int, int, int, int]]:
    """The adaptive average pools of a Paddle program: output variable -> (in height, in width, out height, out
    width), for those whose input size is fixed in the program (paddle2onnx needs that too)."""
    import paddle

    paddle.enable_static()
    try:
        block = paddle.static.Program.parse_from_string(program_file.read_bytes()).global_block()
        pools: dict[str, tuple[int, int, int, int]] = {}
        for op in block.ops:
            if op.type != "pool2d" or not op.attr("adaptive") or op.attr("global_pooling"):
                continue
            shape = list(block.var(op.input("X")[0]).shape)
            if op.attr("pooling_type") != "avg" or op.attr("data_format") != "NCHW" or len(shape) != 4:
                continue
            out_h, out_w = (int(v) for v in op.attr("ksize"))
            if shape[2] > 0 and shape[3] > 0:
                pools[op.output("Out")[0]] = (int(shape[2]), int(shape[3]), out_h, out_w)
        return pools
    finally:
        paddle.disable_static()


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
    import onnx

    from recipecc.passes.onnx.common import describe
    from recipecc.passes.onnx.rewrite import exact_adaptive_pools

    conversion: dict[str, Any] = {"tool": f"paddle2onnx {paddle2onnx.__version__}", "from": "paddle-inference"}
    pools = adaptive_average_pools(source / model_file)
    if pools:
        model = onnx.load(str(out))
        rewritten = exact_adaptive_pools(model, pools)
        if rewritten:
            onnx.checker.check_model(model)
            onnx.save_model(model, str(out))
            conversion["rewritten"] = {"exact adaptive average pooling (MatMul)": rewritten}

    # the network's facts travel on (input_shape excepted: the ONNX model states its own)
    keep = (*(k for k in MODEL_FACTS if k != "input_shape"), "calibration")
    return {
        **{k: meta[k] for k in keep if k in meta},
        **describe(ctx.out_dir),
        "precision": meta.get("precision", "fp32"),
        "conversion": {**conversion, "opset": opset},
    }
