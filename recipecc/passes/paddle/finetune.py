"""``paddle.finetune``: train a (pruned) model a few more epochs to win back the accuracy pruning cost."""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from typing import Any

from recipecc.passes.base import PassContext, TrainSettings, read_artifact
from recipecc.passes.data.arrays import load_split
from recipecc.passes.paddle.checkpoint import BASE_WEIGHTS, load_model, save_model
from recipecc.passes.paddle.training import evaluate, train_epochs

__all__ = ["run"]


def run(ctx: PassContext) -> dict[str, Any]:
    p = ctx.params
    source = ctx.input("model")
    meta = read_artifact(source)
    model, _ = load_model(source)
    data = load_split(ctx.input("data"))
    top1_before = evaluate(model, data["x_test"], data["y_test"])
    history = train_epochs(model, data, TrainSettings.from_params(p, weight_decay=0.0), "finetune")
    base = source / BASE_WEIGHTS
    save_model(model, ctx.out_dir, base_weights=base if base.exists() else None)
    return {**meta, "history": history, "top1_before_finetune": top1_before, "top1_dygraph": history[-1]["top1"]}
