"""``tf.train``: build a registered architecture in Keras (no pretrained weights) and train it on NHWC data."""

from __future__ import annotations

from typing import Any

from recipecc.passes.base import PassContext, TrainSettings, read_artifact, task_of
from recipecc.passes.data.arrays import load_split
from recipecc.passes.tf.common import count_params, save_keras, train_keras
from recipecc.passes.tf.models import build_model

__all__ = ["run"]


def run(ctx: PassContext) -> dict[str, Any]:
    p = ctx.params
    data_dir = ctx.input("data")
    input_shape = list(read_artifact(data_dir)["input_shape"])
    data = load_split(data_dir)
    model = build_model(
        str(p["arch"]), input_shape, int(p["num_classes"]), float(p["width"]), int(p.get("output_stride", 16))
    )
    history = train_keras(model, data, TrainSettings.from_params(p), f"train {p['arch']}", task=task_of(p))
    path = save_keras(model, ctx.out_dir)
    return {
        "format": "keras",
        "model_files": [path.name],
        "size_bytes": path.stat().st_size,
        "precision": "fp32",
        "arch": p["arch"],
        "input_shape": input_shape,
        "history": history or None,  # model.train.epochs=0: untrained (plan/bench checks)
        "params": count_params(model),
    }
