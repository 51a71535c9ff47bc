"""``tf.train``: build a registered architecture in Keras (no pretrained weights) and train it on NHWC data.

``epochs: 0`` means untrained, as in the paddle backend (the ImageNet architectures' default here: a CPU cannot
train them from scratch in minutes): the network keeps its random weights and only its batch-norm statistics are
set from training images, so that its compressed stages can still be compared with it (size, latency, fidelity).
"""

from __future__ import annotations

from typing import Any

from recipecc.passes.base import PassContext, TrainSettings, read_artifact, task_of
from recipecc.passes.data.arrays import load_split
from recipecc.passes.tf.common import count_params, recalibrate_batch_norm, save_keras, train_keras
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
    settings = TrainSettings.from_params(p)
    history: list[dict[str, float]] = []
    origin = "trained here"
    if settings.epochs > 0:
        history = train_keras(model, data, settings, f"train {p['arch']}", task=task_of(p))
    else:
        seen = recalibrate_batch_norm(model, data["x_train"])
        origin = f"untrained (random weights; batch-norm statistics from {seen} training images)"
    path = save_keras(model, ctx.out_dir)
    return {
        "format": "keras",
        "model_files": [path.name],
        "size_bytes": path.stat().st_size,
        "precision": "fp32",
        "arch": p["arch"],
        "input_shape": input_shape,
        "origin": origin,
        "history": history or None,
        "params": count_params(model),
    }
