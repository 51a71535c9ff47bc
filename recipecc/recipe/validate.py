"""Rules a type cannot express: ranges, choices, files that must exist.

Composition (Hydra + the typed schema) has already rejected unknown keys and wrong types; this module checks the
values and returns the typed :class:`RecipeConfig` the planner works from. Rules that depend on the target (can
its runtime run int8?) are legality checks and belong to the planner.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

from omegaconf import DictConfig, OmegaConf

from recipecc.recipe.catalog import (
    ARCHITECTURES,
    COLORS,
    DATASETS,
    FIDELITY_METRICS,
    FINETUNE_OPTIMIZERS,
    GRAPH_OPTIMIZATION_LEVELS,
    LAYOUTS,
    MODEL_FORMATS,
    PRUNE_CRITERIA,
    PRUNE_SCHEDULES,
    QUANT_ALGOS,
    QUANT_BITS,
    QUANT_FORMATS,
    QUANT_INT_TYPES,
    QUANT_IO_TYPES,
    QUANT_MODES,
    RUNTIMES,
    SENSITIVITY_TARGETS,
    TFLITE_DELEGATES,
)
from recipecc.recipe.errors import RecipeError
from recipecc.recipe.schema import PruneConfig, QuantConfig, RecipeConfig

__all__ = ["OBJECTIVE_MEASURES", "validate_recipe"]


def _choice(key: str, value: object, choices: Sequence[object]) -> None:
    if value not in choices:
        raise RecipeError.choice(key, value, [str(c) for c in choices])


def _open_interval(key: str, value: float, low: float, high: float) -> None:
    if not low < value < high:
        raise RecipeError(f"{key} = {value} is out of range", key=key, value=value, valid=f"{low} < {key} < {high}")


def _at_least(key: str, value: float, low: float) -> None:
    if value < low:
        raise RecipeError(f"{key} = {value} is too small", key=key, value=value, valid=f"{key} >= {low}")


def _positive(key: str, value: float) -> None:
    if not value > 0:
        raise RecipeError(f"{key} = {value} must be positive", key=key, value=value, valid=f"{key} > 0")


def _existing_path(key: str, value: str | None, *, required: bool) -> None:
    if value is None:
        if required:
            raise RecipeError(f"{key} is required here", key=key, valid="a path to an existing file or folder")
        return
    if not Path(value).expanduser().exists():
        raise RecipeError(
            f"{key}: file or folder '{value}' does not exist", key=key, value=value, valid="an existing path"
        )


def _validate_prune(prune: PruneConfig) -> None:
    _choice("strategy.prune.criterion", prune.criterion, PRUNE_CRITERIA)
    _open_interval("strategy.prune.ratio", prune.ratio, 0.0, 1.0)
    if not prune.layers:
        raise RecipeError(
            "strategy.prune.layers is empty", key="strategy.prune.layers", valid="name patterns, e.g. ['*']"
        )
    for pattern, ratio in prune.per_layer.items():
        _open_interval(f"strategy.prune.per_layer.{pattern}", ratio, 0.0, 1.0)
    _choice("strategy.prune.schedule", prune.schedule, PRUNE_SCHEDULES)
    _at_least("strategy.prune.frequency", prune.frequency, 1)
    if prune.block is not None:
        n, _, m = prune.block.partition(":")
        if not (n.isdigit() and m.isdigit() and 0 < int(n) < int(m)):
            raise RecipeError(
                f"strategy.prune.block = {prune.block!r} is not a sparsity block",
                key="strategy.prune.block",
                value=prune.block,
                valid="N:M with 0 < N < M, e.g. '2:4'",
            )


def _validate_quant(key: str, quant: QuantConfig) -> None:
    _choice(f"{key}.mode", quant.mode, QUANT_MODES)
    _choice(f"{key}.bits", quant.bits, QUANT_BITS)
    _choice(f"{key}.algo", quant.algo, QUANT_ALGOS)
    _at_least(f"{key}.batch_nums", quant.batch_nums, 1)
    _at_least(f"{key}.batch_size", quant.batch_size, 1)
    _choice(f"{key}.format", quant.format, QUANT_FORMATS)
    _choice(f"{key}.activation_type", quant.activation_type, QUANT_INT_TYPES)
    _choice(f"{key}.weight_type", quant.weight_type, QUANT_INT_TYPES)
    _choice(f"{key}.io_type", quant.io_type, QUANT_IO_TYPES)
    _at_least(f"{key}.epochs", quant.epochs, 1)
    _positive(f"{key}.lr", quant.lr)


def _validate_shape(key: str, shape: Sequence[int] | None, length: int | None = None) -> None:
    if shape is None:
        return
    if (length is not None and len(shape) != length) or any(d == 0 or d < -1 for d in shape):
        raise RecipeError(
            f"{key} = {list(shape)} is not a valid shape",
            key=key,
            value=list(shape),
            valid=f"{length or 'some'} positive sizes (-1 only for a dynamic batch)",
        )


def validate_recipe(cfg: DictConfig | RecipeConfig) -> RecipeConfig:
    """Check every value of a composed recipe; return it as a typed object. Raises :class:`RecipeError`."""
    recipe = cast(RecipeConfig, OmegaConf.to_object(cfg)) if isinstance(cfg, DictConfig) else cfg

    model = recipe.model
    _choice("model.arch", model.arch, [*ARCHITECTURES, "file"])
    _positive("model.width", model.width)
    _at_least("model.num_classes", model.num_classes, 2)
    if model.framework is not None:
        _choice("model.framework", model.framework, sorted({f for a in ARCHITECTURES.values() for f in a.frameworks}))
    if model.format is not None:
        _choice("model.format", model.format, list(MODEL_FORMATS))
    _existing_path("model.path", model.path, required=model.arch == "file")
    _validate_shape("model.input_shape", model.input_shape)
    _at_least("model.train.epochs", model.train.epochs, 0)
    _positive("model.train.lr", model.train.lr)
    _at_least("model.train.batch_size", model.train.batch_size, 1)
    _choice("model.train.optimizer", model.train.optimizer, FINETUNE_OPTIMIZERS)
    _at_least("model.train.weight_decay", model.train.weight_decay, 0)

    data = recipe.dataset
    _choice("dataset.name", data.name, list(DATASETS))
    _at_least("dataset.image_size", data.image_size, 8)
    _open_interval("dataset.test_fraction", data.test_fraction, 0.0, 1.0)
    _existing_path("dataset.root", data.root, required=data.name == "image_folder")
    _validate_shape("dataset.size", data.size, 2)
    _choice("dataset.layout", data.layout, LAYOUTS)
    _choice("dataset.color", data.color, COLORS)
    _positive("dataset.scale", data.scale)
    for index, std in enumerate(data.std):
        _positive(f"dataset.std[{index}]", std)
    if len(data.mean) not in (1, 3) or len(data.std) not in (1, 3):
        raise RecipeError("dataset.mean / dataset.std need 1 or 3 values", key="dataset.mean", valid="1 or 3 values")
    _at_least("dataset.calibration_images", data.calibration_images, 1)
    _at_least("dataset.eval_images", data.eval_images, 1)
    if data.max_images is not None:
        _at_least("dataset.max_images", data.max_images, 50)  # a stratified hold-out of all 10 digits

    strategy = recipe.strategy
    if strategy.prune is not None:
        _validate_prune(strategy.prune)
    if strategy.sensitivity is not None:
        sens = strategy.sensitivity
        if not sens.ratios:
            raise RecipeError("strategy.sensitivity.ratios is empty", key="strategy.sensitivity.ratios")
        for ratio in sens.ratios:
            _open_interval("strategy.sensitivity.ratios", ratio, 0.0, 1.0)
        _choice("strategy.sensitivity.target", sens.target, SENSITIVITY_TARGETS)
        _open_interval("strategy.sensitivity.value", sens.value, 0.0, 1.0)
        _at_least("strategy.sensitivity.align", sens.align, 1)
        _at_least("strategy.sensitivity.images", sens.images, 8)
    if strategy.finetune is not None:
        _at_least("strategy.finetune.epochs", strategy.finetune.epochs, 0)
        _positive("strategy.finetune.lr", strategy.finetune.lr)
        _at_least("strategy.finetune.batch_size", strategy.finetune.batch_size, 1)
        _choice("strategy.finetune.optimizer", strategy.finetune.optimizer, FINETUNE_OPTIMIZERS)
    if strategy.quant is not None:
        _validate_quant("strategy.quant", strategy.quant)
    if strategy.search is not None:
        if not strategy.search.candidates:
            raise RecipeError(
                "strategy.search.candidates is empty", key="strategy.search.candidates", valid="quant configurations"
            )
        for index, candidate in enumerate(strategy.search.candidates):
            _validate_quant(f"strategy.search.candidates[{index}]", candidate)
        _choice("strategy.search.metric", strategy.search.metric, ["top1", *FIDELITY_METRICS])
        _at_least("strategy.search.max_drop", strategy.search.max_drop, 0)

    target = recipe.target
    _choice("target.runtime", target.runtime, list(RUNTIMES))
    if not target.threads:
        raise RecipeError("target.threads is empty", key="target.threads", valid="a list of thread counts >= 1")
    for threads in target.threads:
        _at_least("target.threads", threads, 1)
    _choice("target.graph_optimization", target.graph_optimization, GRAPH_OPTIMIZATION_LEVELS)
    _choice("target.delegate", target.delegate, TFLITE_DELEGATES)

    _at_least("bench.warmup", recipe.bench.warmup, 0)
    _at_least("bench.repeats", recipe.bench.repeats, 1)
    _at_least("bench.batch_size", recipe.bench.batch_size, 1)
    for metric in recipe.bench.metrics:
        _choice("bench.metrics", metric, FIDELITY_METRICS)
    if recipe.objective.measure is not None:
        _validate_objective(recipe)
    return recipe


#: what an objective can measure besides a recipe key (``recipecc/sweep/objective.py`` computes them)
OBJECTIVE_MEASURES = ("latency", "size", "quality")


def _validate_objective(recipe: RecipeConfig) -> None:
    objective = recipe.objective
    _choice("objective.direction", objective.direction, ["minimize", "maximize"])
    if objective.measure not in OBJECTIVE_MEASURES:
        value = OmegaConf.select(OmegaConf.structured(recipe), str(objective.measure), default=None)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RecipeError(
                f"objective.measure = {objective.measure!r} is neither a result measure nor a numeric recipe key",
                key="objective.measure",
                value=objective.measure,
                valid=f"{', '.join(OBJECTIVE_MEASURES)}, or a numeric key of this recipe such as strategy.prune.ratio",
            )
    if objective.threads is not None and objective.threads not in recipe.target.threads:
        raise RecipeError.choice("objective.threads", objective.threads, [str(t) for t in recipe.target.threads])
    if objective.metric is not None:
        _choice("objective.metric", objective.metric, ["top1", *FIDELITY_METRICS])
        if objective.metric != "top1" and objective.metric not in recipe.bench.metrics:
            raise RecipeError(
                f"objective.metric = {objective.metric!r} is not measured by this recipe",
                key="objective.metric",
                value=objective.metric,
                valid=f"top1 (with labelled data), or add it to bench.metrics: "
                f"bench.metrics=[{', '.join([*recipe.bench.metrics, objective.metric])}]",
            )
    if objective.max_drop is not None:
        _at_least("objective.max_drop", objective.max_drop, 0)
