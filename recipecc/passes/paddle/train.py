"""``paddle.train``: build a registered architecture (no pretrained weights) and train it on the recipe's data."""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from typing import Any

import paddle

from recipecc.passes.base import PassContext, read_artifact
from recipecc.passes.data.arrays import load_split
from recipecc.passes.paddle.checkpoint import save_model
from recipecc.passes.paddle.models import build_model, describe
from recipecc.passes.paddle.training import train_epochs

__all__ = ["run"]


def run(ctx: PassContext) -> dict[str, Any]:
    p = ctx.params
    data_dir = ctx.input("data")
    input_shape = list(read_artifact(data_dir)["input_shape"])
    data = load_split(data_dir)
    paddle.seed(int(p["seed"]))
    model = build_model(p["arch"], input_shape, int(p["num_classes"]), float(p["width"]))
    history = train_epochs(
        model,
        data,
        epochs=int(p["epochs"]),
        lr=float(p["lr"]),
        batch_size=int(p["batch_size"]),
        optimizer=str(p["optimizer"]),
        weight_decay=float(p["weight_decay"]),
        seed=int(p["seed"]),
        label=f"train {p['arch']}",
    )
    save_model(model, ctx.out_dir)
    return {
        "format": "paddle-dygraph",
        "arch": p["arch"],
        "width": p["width"],
        "num_classes": p["num_classes"],
        "input_shape": input_shape,
        "pruning": None,
        "history": history,
        "top1_dygraph": history[-1]["top1"],
        **describe(model, input_shape),
    }
