"""``paddle.qat``: quantization-aware training with PaddleSlim's dygraph ``QAT``, saved as an int8 inference model.

Fake-quantization (int8 weights per channel or per tensor, int8 activations with moving-average ranges) is
inserted into the network, which then trains ``epochs`` more so that it learns to live with the rounding. The
saved model uses the ONNX-style quantize/dequantize format that Paddle Inference runs with oneDNN int8 kernels.
(``paddleslim.QAT`` is used, not ``paddle.quantization.QAT``: the latter gave wrong oneDNN int8 outputs here.)
"""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from typing import Any

import paddle

from recipecc.passes.base import PassContext, TrainSettings, read_artifact
from recipecc.passes.data.arrays import load_split
from recipecc.passes.paddle.checkpoint import MODEL_FACTS, load_model
from recipecc.passes.paddle.export import INPUT_NAME, inference_model_files
from recipecc.passes.paddle.training import task_of, train_epochs
from recipecc.passes.quiet import quiet_stdout

__all__ = ["run"]


def run(ctx: PassContext) -> dict[str, Any]:
    from paddleslim import QAT

    p = ctx.params
    source = ctx.input("model")
    meta = read_artifact(source)
    model, spec = load_model(source)
    config = {
        "weight_quantize_type": "channel_wise_abs_max" if p["weight_per_channel"] else "abs_max",
        "activation_quantize_type": "moving_average_abs_max",
        "weight_bits": 8,
        "activation_bits": 8,
        "quantizable_layer_type": ["Conv2D", "Linear"],
        "onnx_format": True,
    }
    quanter = QAT(config=config)
    with quiet_stdout():
        quanter.quantize(model)
    settings = TrainSettings.from_params(p, optimizer="momentum", weight_decay=0.0)
    history = train_epochs(model, load_split(ctx.input("data")), settings, "qat", task_of(p, ctx.input("data")))
    input_spec = [paddle.static.InputSpec([None, *spec["input_shape"]], "float32", INPUT_NAME)]
    with quiet_stdout():
        quanter.save_quantized_model(model, str(ctx.out_dir / "model"), input_spec=input_spec)
    return {
        **{k: meta[k] for k in MODEL_FACTS if k in meta},
        **inference_model_files(ctx.out_dir, "int8"),
        "history": history,
        "top1_dygraph": history[-1].get("top1"),
        "quantization": {"method": "QAT (PaddleSlim)", "epochs": int(p["epochs"]), **config},
    }
