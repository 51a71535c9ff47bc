"""``paddle.finetune``: train a (pruned) model a few more epochs to win back the accuracy pruning cost."""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from typing import Any

from recipecc.passes.base import PassContext, TrainSettings, read_artifact
from recipecc.passes.data.arrays import load_split
from recipecc.passes.paddle.checkpoint import BASE_WEIGHTS, load_model, save_model
from recipecc.passes.paddle.training import evaluate, task_of, train_epochs

__all__ = ["run"]


def run(ctx: PassContext) -> dict[str, Any]:
    p = ctx.params
    source = ctx.input("model")
    meta = read_artifact(source)
    model, _ = load_model(source)
    data = load_split(ctx.input("data"))
    task = task_of(p, ctx.input("data"))
    before = evaluate(model, data["x_test"], data["y_test"], task)
    history = train_epochs(model, data, TrainSettings.from_params(p, weight_decay=0.0), "finetune", task)
    base = source / BASE_WEIGHTS
    save_model(model, ctx.out_dir, base_weights=base if base.exists() else None)
    score = {k: v for k, v in history[-1].items() if k not in ("epoch", "loss")}
    return {
        **meta,
        "history": history,
        "score_before_finetune": before,
        "top1_dygraph": history[-1].get("top1"),
        "score_dygraph": score,
    }
