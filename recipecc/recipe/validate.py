"""Rules a type cannot express: ranges, choices, files that must exist.

Composition (Hydra + the typed schema) has already rejected unknown keys and wrong types; this module checks the
values and returns the typed :class:`RecipeConfig` the planner works from. Rules that depend on the target (can
its runtime run int8?) are legality checks and belong to the planner.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

from omegaconf import DictConfig, OmegaConf

from recipecc.recipe.anchors import validate_anchors
from recipecc.recipe.catalog import (
    ARCHITECTURES,
    COLORS,
    DATASETS,
    FIDELITY_METRICS,
    FINETUNE_OPTIMIZERS,
    GRAPH_OPTIMIZATION_LEVELS,
    LAYOUTS,
    MODEL_FORMATS,
    PADDLE_QUANT_ALGOS,
    PRUNE_CRITERIA,
    PRUNE_SCHEDULES,
    QUANT_ALGOS,
    QUANT_BITS,
    QUANT_FORMATS,
    QUANT_INT_TYPES,
    QUANT_IO_TYPES,
    QUANT_MODES,
    SENSITIVITY_TARGETS,
    TFLITE_DELEGATES,
    TFLITE_FILE_RECIPES,
)
from recipecc.recipe.errors import RecipeError
from recipecc.recipe.files import check_dataset_root, check_model_path
from recipecc.recipe.moved_keys import paddle_algo_error
from recipecc.recipe.schema import PruneConfig, QuantConfig, RecipeConfig
from recipecc.recipe.targets import resolve_target
from recipecc.tasks import TASKS
from recipecc.tasks.outputs import OUTPUT_KINDS

__all__ = ["BOUNDS", "OBJECTIVE_MEASURES", "Bound", "numeric_fields", "validate_recipe"]


@dataclass(frozen=True)
class Bound:
    """The range of a numeric field: ``low <= value <= high`` (``<`` where the side is open)."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def describe(self, key: str) -> str:
        left = f"{self.low} {'<' if self.open_low else '<='} " if self.low is not None else ""
        right = f" {'<' if self.open_high else '<='} {self.high}" if self.high is not None else ""
        return f"{left}{key}{right}"


_FRACTION = Bound(0.0, 1.0, open_low=True, open_high=True)
_LR = Bound(0.0, 10.0, open_low=True)
_EPOCHS = Bound(0, 10_000)
_BATCH = Bound(1, 65_536)
_COUNT = Bound(1, 10_000_000)
_SEED = Bound(0, 2**32 - 1)


def _quant_bounds(prefix: str) -> dict[str, Bound]:
    return {
        f"{prefix}.bits": Bound(8, 16),
        f"{prefix}.batch_nums": Bound(1, 1_000_000),
        f"{prefix}.batch_size": _BATCH,
        f"{prefix}.epochs": Bound(1, 10_000),
        f"{prefix}.lr": _LR,
    }


#: Every numeric field of the schema and its range; non-finite values (inf, nan) are refused everywhere.
#: Keys are dotted paths; ``[]`` stands for any list index and ``*`` for any key of a free mapping.
#: A new numeric field gets its line here (``tests/test_safety.py`` fails for a field without one).
BOUNDS: dict[str, Bound] = {
    "seed": _SEED,
    "model.width": Bound(0.125, 4.0),
    "model.num_classes": Bound(2, 100_000),
    "model.input_shape[]": Bound(-1, 16_384),  # shape rules (-1 only for the batch) in _validate_shape
    "model.train.epochs": _EPOCHS,
    "model.train.lr": _LR,
    "model.train.batch_size": _BATCH,
    "model.train.weight_decay": Bound(0.0, 1.0, open_high=True),
    "dataset.image_size": Bound(8, 1024),
    "dataset.test_fraction": _FRACTION,
    "dataset.seed": _SEED,
    "dataset.size[]": Bound(1, 16_384),
    "dataset.mean[]": Bound(-1e6, 1e6),
    "dataset.std[]": Bound(0.0, 1e6, open_low=True),
    "dataset.scale": Bound(0.0, 1e6, open_low=True),
    "dataset.calibration_images": _COUNT,
    "dataset.eval_images": _COUNT,
    "dataset.max_images": Bound(1, 100_000_000),  # digits: >= 50 (a stratified hold-out of all 10), below
    "dataset.ignore_index": Bound(0, 255),  # a label-map value (255 in VOC and Cityscapes)
    "model.input_size": Bound(16, 8192),
    "model.threshold": Bound(-1e6, 1e6),
    "model.output_stride": Bound(8, 32),
    "model.anchors[][]": Bound(1, 32_768),  # pixels of the input; the input-size rule in recipe/anchors.py
    "strategy.prune.ratio": _FRACTION,
    "strategy.prune.per_layer.*": _FRACTION,
    "strategy.prune.frequency": Bound(1, 1_000_000),
    "strategy.sensitivity.ratios[]": _FRACTION,
    "strategy.sensitivity.value": _FRACTION,
    "strategy.sensitivity.align": Bound(1, 4096),
    "strategy.sensitivity.images": Bound(8, 10_000_000),
    "strategy.finetune.epochs": _EPOCHS,
    "strategy.finetune.lr": _LR,
    "strategy.finetune.batch_size": _BATCH,
    **_quant_bounds("strategy.quant"),
    **_quant_bounds("strategy.search.candidates[]"),
    "strategy.search.max_drop": Bound(0.0, 1.0),
    "target.threads[]": Bound(1, 1024),
    "target.ssh.port": Bound(1, 65_535),
    "target.ssh.timeout": Bound(0.0, 600.0, open_low=True),
    "bench.warmup": Bound(0, 10_000_000),
    "bench.repeats": Bound(1, 100_000_000),
    "bench.batch_size": _BATCH,
    "objective.threads": Bound(1, 1024),
    "objective.max_drop": Bound(0.0, 1.0),
}
#: free mappings: their keys are user data (layer patterns), not schema fields
_FREE_MAPPINGS = ("strategy.prune.per_layer",)
#: a safe folder name: the run folder is runs/<name>/<time>
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def numeric_fields(value: Any, path: str = "") -> Iterator[tuple[str, str, float]]:
    """``(path, pattern, value)`` for every number in a recipe (as a dict): ``pattern`` is its :data:`BOUNDS` key."""
    if isinstance(value, dict):
        for key, child in value.items():
            full = f"{path}.{key}" if path else str(key)
            if path in _FREE_MAPPINGS:
                yield from ((p, f"{path}.*", v) for p, _, v in numeric_fields(child, full))
            else:
                yield from numeric_fields(child, full)
    elif isinstance(value, (list, tuple)):
        for index, child in enumerate(value):
            yield from numeric_fields(child, f"{path}[{index}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path, re.sub(r"\[\d+\]", "[]", path), value


def _check_bounds(recipe: RecipeConfig) -> None:
    for path, pattern, value in numeric_fields(asdict(recipe)):
        key = re.sub(r"\[\d+\]$", "", path)  # a list of numbers is named as the list: target.threads = 0
        if isinstance(value, float) and not math.isfinite(value):
            raise RecipeError(f"{key} = {value} is not a finite number", key=key, value=value, valid="a finite number")
        bound = BOUNDS.get(pattern)
        if bound is None:
            continue
        below = bound.low is not None and (value <= bound.low if bound.open_low else value < bound.low)
        above = bound.high is not None and (value >= bound.high if bound.open_high else value > bound.high)
        if below or above:
            word = "out of range" if bound.open_low and bound.open_high else "too small" if below else "too large"
            raise RecipeError(f"{key} = {value} is {word}", key=key, value=value, valid=bound.describe(key))


def _choice(key: str, value: object, choices: Sequence[object]) -> None:
    if value not in choices:
        raise RecipeError.choice(key, value, [str(c) for c in choices])


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
    if not prune.layers:
        raise RecipeError(
            "strategy.prune.layers is empty", key="strategy.prune.layers", valid="name patterns, e.g. ['*']"
        )
    _choice("strategy.prune.schedule", prune.schedule, PRUNE_SCHEDULES)
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
    moved = paddle_algo_error(f"{key}.algo", quant.algo)
    if moved is not None:
        raise moved
    _choice(f"{key}.algo", quant.algo, QUANT_ALGOS)
    _choice(f"{key}.paddle.algo", quant.paddle.algo, PADDLE_QUANT_ALGOS)
    _choice(f"{key}.onnx.format", quant.onnx.format, QUANT_FORMATS)
    _choice(f"{key}.onnx.activation_type", quant.onnx.activation_type, QUANT_INT_TYPES)
    _choice(f"{key}.onnx.weight_type", quant.onnx.weight_type, QUANT_INT_TYPES)
    _choice(f"{key}.tflite.io_type", quant.tflite.io_type, QUANT_IO_TYPES)
    _choice(f"{key}.tflite.recipe", quant.tflite.recipe, TFLITE_FILE_RECIPES)


def _validate_shape(key: str, shape: Sequence[int] | None, length: int | None = None) -> None:
    if shape is None:
        return
    batch_may_be_dynamic = length is None
    bad = [d for i, d in enumerate(shape) if d < 1 and not (batch_may_be_dynamic and i == 0 and d == -1)]
    elements = math.prod(abs(d) for d in shape)
    if (length is not None and len(shape) != length) or bad or not shape or elements > 1 << 28:
        raise RecipeError(
            f"{key} = {list(shape)} is not a valid shape",
            key=key,
            value=list(shape),
            valid=f"{length or 'some'} positive sizes"
            + (" (-1 only for a dynamic batch, the first)" if batch_may_be_dynamic else "")
            + f", at most {1 << 28:,} elements",
        )


def validate_recipe(cfg: DictConfig | RecipeConfig) -> RecipeConfig:
    """Check every value of a composed recipe; return it as a typed object. Raises :class:`RecipeError`."""
    recipe = cast(RecipeConfig, OmegaConf.to_object(cfg)) if isinstance(cfg, DictConfig) else cfg
    if not _NAME.match(recipe.name):
        raise RecipeError(
            f"name = {recipe.name!r} is not a plain name (it becomes the run folder runs/<name>/)",
            key="name",
            value=recipe.name,
            valid="letters, digits, '.', '_' and '-', starting with a letter or digit, at most 100 characters",
        )

    model = recipe.model
    _choice("model.arch", model.arch, [*ARCHITECTURES, "file"])
    if model.framework is not None:
        _choice("model.framework", model.framework, sorted({f for a in ARCHITECTURES.values() for f in a.frameworks}))
    if model.format is not None:
        _choice("model.format", model.format, list(MODEL_FORMATS))
    _existing_path("model.path", model.path, required=model.arch == "file")
    _validate_shape("model.input_shape", model.input_shape)
    if model.task is not None:
        _choice("model.task", model.task, list(TASKS))
    for name, kind in (model.outputs or {}).items():
        _choice(f"model.outputs.{name}", kind, list(OUTPUT_KINDS))
    _choice("model.output_stride", model.output_stride, [8, 16, 32])
    validate_anchors(model)
    _choice("model.train.optimizer", model.train.optimizer, FINETUNE_OPTIMIZERS)

    data = recipe.dataset
    _choice("dataset.name", data.name, list(DATASETS))
    _existing_path("dataset.root", data.root, required=data.name == "image_folder")
    _validate_shape("dataset.size", data.size, 2)
    _choice("dataset.layout", data.layout, LAYOUTS)
    _choice("dataset.color", data.color, COLORS)
    if len(data.mean) not in (1, 3) or len(data.std) not in (1, 3):
        raise RecipeError("dataset.mean / dataset.std need 1 or 3 values", key="dataset.mean", valid="1 or 3 values")
    if data.name == "digits" and data.max_images is not None and data.max_images < 50:
        raise RecipeError(
            f"dataset.max_images = {data.max_images} is too small for the digits",
            key="dataset.max_images",
            value=data.max_images,
            valid="dataset.max_images >= 50 (a stratified hold-out of all 10 digits)",
        )

    strategy = recipe.strategy
    if strategy.prune is not None:
        _validate_prune(strategy.prune)
    if strategy.sensitivity is not None:
        sens = strategy.sensitivity
        if not sens.ratios:
            raise RecipeError("strategy.sensitivity.ratios is empty", key="strategy.sensitivity.ratios")
        _choice("strategy.sensitivity.target", sens.target, SENSITIVITY_TARGETS)
    if strategy.finetune is not None:
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
        task_metrics = [m for t in TASKS.values() for m in (*t.metrics, t.fidelity_headline) if m != "auto"]
        metrics = [*dict.fromkeys(["top1", *FIDELITY_METRICS, *task_metrics])]
        _choice("strategy.search.metric", strategy.search.metric, metrics)

    target = recipe.target
    resolve_target(target)  # device, runtime, abi, threads and measurer fit together
    _choice("target.graph_optimization", target.graph_optimization, GRAPH_OPTIMIZATION_LEVELS)
    _choice("target.delegate", target.delegate, TFLITE_DELEGATES)

    for metric in recipe.bench.metrics:
        _choice("bench.metrics", metric, FIDELITY_METRICS)
    _check_bounds(recipe)
    # user paths become absolute: passes run with their own output folder as the working folder
    if model.path is not None:
        model.path = str(Path(model.path).expanduser().absolute())
    if data.root is not None:
        data.root = str(Path(data.root).expanduser().absolute())
    if model.path is not None:
        check_model_path("model.path", model.path, trusted=model.trusted)
    if data.name == "image_folder" and data.root is not None:
        check_dataset_root("dataset.root", data.root)
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
