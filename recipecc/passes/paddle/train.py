"""``paddle.train``: build a registered architecture (no pretrained weights) and train it on the recipe's data."""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from pathlib import Path
from typing import Any

import paddle

from recipecc.passes.base import PassContext, PassFailure, TrainSettings, read_artifact
from recipecc.passes.data.arrays import load_split
from recipecc.passes.paddle.checkpoint import load_state, save_model
from recipecc.passes.paddle.models import build_model, describe
from recipecc.passes.paddle.training import recalibrate_batch_norm, task_of, train_epochs

__all__ = ["run"]


def run(ctx: PassContext) -> dict[str, Any]:
    p = ctx.params
    data_dir = ctx.input("data")
    input_shape = list(read_artifact(data_dir)["input_shape"])
    data = load_split(data_dir)
    paddle.seed(int(p["seed"]))
    try:
        model = build_model(
            p["arch"], input_shape, int(p["num_classes"]), float(p["width"]), int(p.get("output_stride", 16))
        )
    except ValueError as exc:
        raise PassFailure(str(exc)) from None
    origin = "trained here"
    if p.get("checkpoint"):
        what = f"model.path ({p['arch']}, width {p['width']}, {p['num_classes']} classes)"
        load_state(model, Path(str(p["checkpoint"])), what=what, trusted=bool(p.get("trusted")))
        origin = f"weights from {p['checkpoint']}"
    history: list[dict[str, float]] = []
    task = task_of(p, data_dir)
    if int(p["epochs"]) > 0:
        history = train_epochs(model, data, TrainSettings.from_params(p), f"train {p['arch']}", task)
    elif not p.get("checkpoint"):
        seen = recalibrate_batch_norm(model, data["x_train"])
        origin = f"untrained (random weights; batch-norm statistics from {seen} training images)"
    save_model(model, ctx.out_dir)
    return {
        "format": "paddle-dygraph",
        "arch": p["arch"],
        "width": p["width"],
        "num_classes": p["num_classes"],
        "input_shape": input_shape,
        **({"output_stride": int(p["output_stride"])} if "output_stride" in p else {}),
        "pruning": None,
        "origin": origin,
        "history": history or None,
        "top1_dygraph": history[-1].get("top1") if history else None,
        "score_dygraph": {k: v for k, v in history[-1].items() if k not in ("epoch", "loss")} if history else None,
        **({"decoder": task["decoder"]} if "decoder" in task else {}),
        **describe(model, input_shape),
    }
