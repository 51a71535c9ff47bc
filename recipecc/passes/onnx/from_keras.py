"""``tf.to_onnx``: a Keras model (from the tf backend's ``tf.train``) as an ONNX model, with tf2onnx.

Runs in the tf worker (it needs TensorFlow; the worker sets ``TF_USE_LEGACY_KERAS=1``, so models are tf_keras
ones). The input keeps its NHWC layout and a dynamic batch; the opset is the planner's (13: per-channel QDQ).
tf2onnx 1.17.0 works with tensorflow 2.21 + tf-keras 2.21 here (checked: outputs match to 3e-8).
"""

from __future__ import annotations

import contextlib
import io
import os
from typing import Any

import onnx

from recipecc.passes.base import PassContext, PassFailure, read_artifact

__all__ = ["run"]

MODEL_FILE = "model.onnx"
INPUT_NAME = "image"


def run(ctx: PassContext) -> dict[str, Any]:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf
    import tf2onnx

    from recipecc.passes.onnx.common import describe
    from recipecc.passes.onnx.graph_stats import graph_stats
    from recipecc.passes.tf.common import load_keras

    source = ctx.input("model")
    meta = read_artifact(source)
    if meta.get("format") != "keras":
        raise PassFailure(f"tf2onnx converts Keras models here, got a '{meta.get('format')}' artifact")
    model = load_keras(source / meta["model_files"][0], trusted=bool(meta.get("trusted")))  # safe mode unless vouched
    opset = int(ctx.params["opset"])
    shape = [None, *[int(d) for d in meta["input_shape"]]]
    signature = (tf.TensorSpec(shape, tf.float32, name=INPUT_NAME),)
    with contextlib.redirect_stdout(io.StringIO()):
        tf2onnx.convert.from_keras(
            model, input_signature=signature, opset=opset, output_path=str(ctx.out_dir / MODEL_FILE)
        )
    keep = ("arch", "width", "num_classes", "params")
    converted = onnx.load(str(ctx.out_dir / MODEL_FILE))
    return {
        **{k: meta[k] for k in keep if k in meta},
        "flops": graph_stats(converted)["flops"],
        **describe(ctx.out_dir),
        "precision": "fp32",
        "conversion": {"tool": f"tf2onnx {tf2onnx.__version__}", "from": "keras", "opset": opset},
    }
