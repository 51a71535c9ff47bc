"""``paddle.weight_only``: weight-only int8/int16 quantization with PaddleSlim's ``quant_post_dynamic``.

The weights of convolutions and fully connected layers are stored as integers (4x / 2x smaller files) and
dequantized when the model loads; activations stay float. The deployable model is for Paddle Lite: Paddle
Inference returns NaN on it. So two models are written: ``quantized_model/`` (what you ship, whose size is
reported) and ``test_model/`` (the same weights rounded to the integer grid but stored as float), which Paddle
Inference runs to measure what the rounding does to accuracy. Its latency is fp32's: weight-only quantization
saves storage and download, not time, on this runtime, and the report says so.
"""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from typing import Any

import paddle

from recipecc.passes.base import PassContext, PassFailure, read_artifact
from recipecc.passes.quiet import quiet_stdout

__all__ = ["run"]

_OP_TYPES = ["conv2d", "depthwise_conv2d", "mul"]


def run(ctx: PassContext) -> dict[str, Any]:
    from paddleslim.quant import quant_post_dynamic

    p = ctx.params
    source = ctx.input("model")
    meta = read_artifact(source)
    if meta.get("format") != "paddle-inference" or meta.get("precision") != "fp32":
        raise PassFailure(f"needs an fp32 Paddle inference model, got {meta.get('format')} {meta.get('precision')}")
    model_file, params_file = meta["model_files"]
    paddle.enable_static()
    try:
        with quiet_stdout():
            quant_post_dynamic(
                model_dir=str(source),
                save_model_dir=str(ctx.out_dir),
                model_filename=model_file,
                params_filename=params_file,
                save_model_filename=model_file,
                save_params_filename=params_file,
                quantizable_op_type=list(_OP_TYPES),
                weight_bits=int(p["bits"]),
                generate_test_model=True,
            )
    finally:
        paddle.disable_static()
    shipped = [f"quantized_model/{model_file}", f"quantized_model/{params_file}"]
    return {
        **{k: v for k, v in meta.items() if k not in ("size_bytes", "precision", "model_files")},
        "precision": f"int{p['bits']} weights",
        "model_files": [f"test_model/{model_file}", f"test_model/{params_file}"],
        "deployable_files": shipped,
        "size_bytes": sum((ctx.out_dir / name).stat().st_size for name in shipped),
        "measurement_note": (
            f"weight-only int{p['bits']}: size of the model for Paddle Lite (quantized_model/); accuracy and latency "
            "of its dequantized twin on Paddle Inference (fp32 compute), which cannot run the shipped model"
        ),
    }
