"""The paddle pipeline: PaddleSlim pruning and quantization, Paddle Inference export and benchmarks.

    data -> train -> export ---------------------------> bench.baseline
                 \\-> prune -> finetune -> export.pruned -> bench.pruned
                                   quantize (PTQ) <-/   \\-> bench.<stage>+int8

``model_stages`` (the fp32 part) is reused by pipelines that convert paddle models for other runtimes.
"""

from __future__ import annotations

from dataclasses import asdict

from recipecc.plan.builder import PlanBuilder, Stage
from recipecc.recipe.catalog import Runtime
from recipecc.recipe.errors import RecipeError

__all__ = ["build", "model_stages", "quantize"]


def model_stages(b: PlanBuilder, data: str) -> list[Stage]:
    """Nodes up to the fp32 Paddle inference models: the baseline, and the pruned model if the recipe prunes."""
    recipe = b.recipe
    model, strategy = recipe.model, recipe.strategy
    if model.arch == "file":
        raise RecipeError(
            "model.arch=file is not supported by the paddle pipeline yet",
            key="model.arch",
            value="file",
            valid="a registered architecture (recipecc list)",
        )
    train = b.add(
        "train",
        "paddle.train",
        {
            "arch": model.arch,
            "width": model.width,
            "num_classes": model.num_classes,
            "seed": recipe.seed,
            **asdict(model.train),
        },
        {"data": data},
    )
    stages = [Stage("baseline", b.add("export", "paddle.export", {"stage": "baseline"}, {"model": train}), "fp32")]
    prune = strategy.prune
    if prune is not None:
        if prune.criterion not in ("l1_norm", "fpgm"):
            raise RecipeError(
                f"strategy.prune.criterion = '{prune.criterion}' is not available on paddle",
                key="strategy.prune.criterion",
                value=prune.criterion,
                valid=["l1_norm", "fpgm"],
            )
        pruned = b.add(
            "prune",
            "paddle.prune",
            {"criterion": prune.criterion, "ratio": prune.ratio, "layers": list(prune.layers)},
            {"model": train},
        )
        tuned = pruned
        if strategy.finetune is not None and strategy.finetune.epochs > 0:
            tuned = b.add(
                "finetune",
                "paddle.finetune",
                {**asdict(strategy.finetune), "seed": recipe.seed},
                {"model": pruned, "data": data},
            )
        else:
            b.check("finetune", "skip", "no finetune after pruning: accuracy may drop")
        stages.append(
            Stage("pruned", b.add("export.pruned", "paddle.export", {"stage": "pruned"}, {"model": tuned}), "fp32")
        )
    elif strategy.finetune is not None:
        b.check("finetune", "skip", "strategy.finetune is set but nothing is pruned: skipped")
    return stages


def quantize(b: PlanBuilder, source: Stage, data: str) -> Stage:
    """Static int8 PTQ of ``source`` with PaddleSlim."""
    quant = b.recipe.strategy.quant
    assert quant is not None
    if quant.mode != "ptq_static":
        raise RecipeError(
            f"strategy.quant.mode = '{quant.mode}' is not available on paddle yet",
            key="strategy.quant.mode",
            value=quant.mode,
            valid=["ptq_static"],
        )
    if quant.bits != 8:
        raise RecipeError(
            f"strategy.quant.bits = {quant.bits}: static post-training quantization on paddle makes 8-bit models only",
            key="strategy.quant.bits",
            value=quant.bits,
            valid=["8"],
        )
    if quant.algo not in ("avg", "hist", "KL", "mse", "abs_max"):
        raise RecipeError(
            f"strategy.quant.algo = '{quant.algo}' is not a PaddleSlim calibration algorithm",
            key="strategy.quant.algo",
            value=quant.algo,
            valid=["avg", "hist", "KL", "mse", "abs_max"],
        )
    params = {
        "mode": quant.mode,
        "bits": quant.bits,
        "algo": quant.algo,
        "weight_per_channel": quant.weight_per_channel,
        "batch_nums": quant.batch_nums,
        "batch_size": quant.batch_size,
        "seed": b.recipe.seed,
    }
    name = "int8" if source.name == "baseline" else f"{source.name}+int8"
    return Stage(name, b.add("quantize", "paddle.ptq", params, {"model": source.node, "data": data}), "int8")


def build(b: PlanBuilder, runtime: Runtime) -> None:
    data = b.dataset("NCHW")
    stages = model_stages(b, data)
    if b.recipe.strategy.quant is not None:
        stages.append(quantize(b, stages[-1], data))
    for stage in stages:
        b.bench(stage, "paddle.bench", data)
