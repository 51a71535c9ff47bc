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
    DATASETS,
    FINETUNE_OPTIMIZERS,
    PRUNE_CRITERIA,
    QUANT_ALGOS,
    QUANT_BITS,
    QUANT_MODES,
    RUNTIMES,
)
from recipecc.recipe.errors import RecipeError
from recipecc.recipe.schema import RecipeConfig

__all__ = ["validate_recipe"]


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


def validate_recipe(cfg: DictConfig | RecipeConfig) -> RecipeConfig:
    """Check every value of a composed recipe; return it as a typed object. Raises :class:`RecipeError`."""
    recipe = cast(RecipeConfig, OmegaConf.to_object(cfg)) if isinstance(cfg, DictConfig) else cfg

    model = recipe.model
    _choice("model.arch", model.arch, [*ARCHITECTURES, "file"])
    _positive("model.width", model.width)
    _at_least("model.num_classes", model.num_classes, 2)
    _existing_path("model.path", model.path, required=model.arch == "file")
    _at_least("model.train.epochs", model.train.epochs, 1)
    _positive("model.train.lr", model.train.lr)
    _at_least("model.train.batch_size", model.train.batch_size, 1)
    _choice("model.train.optimizer", model.train.optimizer, FINETUNE_OPTIMIZERS)
    _at_least("model.train.weight_decay", model.train.weight_decay, 0)

    data = recipe.dataset
    _choice("dataset.name", data.name, list(DATASETS))
    _at_least("dataset.image_size", data.image_size, 8)
    _open_interval("dataset.test_fraction", data.test_fraction, 0.0, 1.0)
    _existing_path("dataset.root", data.root, required=False)

    strategy = recipe.strategy
    if strategy.prune is not None:
        _choice("strategy.prune.criterion", strategy.prune.criterion, PRUNE_CRITERIA)
        _open_interval("strategy.prune.ratio", strategy.prune.ratio, 0.0, 1.0)
        if not strategy.prune.layers:
            raise RecipeError(
                "strategy.prune.layers is empty", key="strategy.prune.layers", valid="name patterns, e.g. ['*']"
            )
    if strategy.finetune is not None:
        _at_least("strategy.finetune.epochs", strategy.finetune.epochs, 0)
        _positive("strategy.finetune.lr", strategy.finetune.lr)
        _at_least("strategy.finetune.batch_size", strategy.finetune.batch_size, 1)
        _choice("strategy.finetune.optimizer", strategy.finetune.optimizer, FINETUNE_OPTIMIZERS)
    if strategy.quant is not None:
        _choice("strategy.quant.mode", strategy.quant.mode, QUANT_MODES)
        _choice("strategy.quant.bits", strategy.quant.bits, QUANT_BITS)
        _choice("strategy.quant.algo", strategy.quant.algo, QUANT_ALGOS)
        _at_least("strategy.quant.batch_nums", strategy.quant.batch_nums, 1)
        _at_least("strategy.quant.batch_size", strategy.quant.batch_size, 1)

    target = recipe.target
    _choice("target.runtime", target.runtime, list(RUNTIMES))
    if not target.threads:
        raise RecipeError("target.threads is empty", key="target.threads", valid="a list of thread counts >= 1")
    for threads in target.threads:
        _at_least("target.threads", threads, 1)

    _at_least("bench.warmup", recipe.bench.warmup, 0)
    _at_least("bench.repeats", recipe.bench.repeats, 1)
    _at_least("bench.batch_size", recipe.bench.batch_size, 1)
    return recipe
