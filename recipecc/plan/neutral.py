"""Framework-neutral strategy values, resolved per backend before a pipeline plans.

``strategy=int8``, ``fp16``, ``prune`` and ``prune_int8`` work on every backend and on user model files: their
``auto`` values become what each backend does best, and a plan check says what was chosen.

- ``strategy.prune.criterion: auto``: filter pruning by L1 norm where the pipeline builds a Paddle network (the
  filters really go away: fewer FLOPs), weight-magnitude pruning everywhere else (tfmot; ONNX files).
- ``strategy.quant.algo: auto``: PaddleSlim's ``avg`` on Paddle; ONNX Runtime chooses the calibration per model
  (``passes/onnx/calibration_search.py``); the TFLite converter calibrates min/max itself.

Backend knobs keep their backend's vocabulary and are read by that backend only: one set on a target whose
backend would ignore it (``strategy.quant.format=qoperator`` on a Paddle target, ``io_type=int8`` on ONNX Runtime,
a calibration ``algo`` on TFLite) is a plan-time error naming the key and the targets that read it, never a
silently ignored setting.
"""

from __future__ import annotations

from dataclasses import fields, replace

from recipecc.plan.builder import PlanBuilder
from recipecc.plan.format_targets import targets_of_backends
from recipecc.recipe.catalog import ARCHITECTURES, Runtime
from recipecc.recipe.errors import RecipeError
from recipecc.recipe.schema import QuantConfig

__all__ = ["AUTO", "resolve_neutral"]

AUTO = "auto"
PADDLE_DEFAULT_ALGO = "avg"


def _builds_paddle_network(b: PlanBuilder, runtime: Runtime) -> bool:
    model = b.recipe.model
    if runtime.backend == "paddle":
        return True
    if runtime.backend != "onnx" or model.arch == "file":
        return False
    return (model.framework or ARCHITECTURES[model.arch].frameworks[0]) == "paddle"


#: strategy.quant knobs that only some backends read (the others: every backend), and what each backend calls them
_KNOB_BACKENDS = {
    "format": ("onnx",),
    "activation_type": ("onnx",),
    "weight_type": ("onnx",),
    "op_types": ("paddle", "onnx"),
    "exclude_op_types": ("onnx",),
    "exclude_nodes": ("onnx",),
    "weight_per_channel": ("paddle", "onnx"),
    "io_type": ("tf",),
    "tflite": ("tf",),
}
_BACKEND_NAMES = {"paddle": "PaddleSlim / Paddle Inference", "onnx": "ONNX Runtime", "tf": "TFLite"}


def _check_backend_knobs(b: PlanBuilder, runtime: Runtime) -> None:
    """Refuse a quant knob set away from its default on a backend that does not read it."""
    quant = b.recipe.strategy.quant
    if quant is None:
        return
    defaults = QuantConfig()
    for field in fields(QuantConfig):
        owners = _KNOB_BACKENDS.get(field.name)
        value, default = getattr(quant, field.name), getattr(defaults, field.name)
        if owners is None or runtime.backend in owners or value == default:
            continue
        shown = "{...}" if field.name == "tflite" else value
        targets = ", ".join(f"target={name}" for name in targets_of_backends(owners))
        raise RecipeError(
            f"strategy.quant.{field.name} = {shown!r} is a {' / '.join(_BACKEND_NAMES[o] for o in owners)} knob; "
            f"target '{b.recipe.target.name}' runs {_BACKEND_NAMES.get(runtime.backend, runtime.backend)}, which "
            "would ignore it",
            key=f"strategy.quant.{field.name}",
            value=shown,
            valid=f"leave it at {default!r} here, or {targets or 'a target of that backend'}",
        )
    if runtime.backend == "tf" and quant.algo != AUTO:
        raise RecipeError(
            f"strategy.quant.algo = '{quant.algo}': TFLite calibrates with min/max (the converter, and "
            "ai-edge-quantizer for .tflite files); PaddleSlim's and ONNX Runtime's methods do not exist there",
            key="strategy.quant.algo",
            value=quant.algo,
            valid=f"{AUTO} on TFLite targets",
        )


def resolve_neutral(b: PlanBuilder, runtime: Runtime) -> None:
    """Replace ``auto`` values in ``b.recipe`` with the backend's choice and record it as a plan check; refuse
    knobs of another backend."""
    _check_backend_knobs(b, runtime)
    strategy = b.recipe.strategy
    prune, quant = strategy.prune, strategy.quant
    if prune is not None and prune.criterion == AUTO:
        criterion = "l1_norm" if _builds_paddle_network(b, runtime) else "magnitude"
        prune = replace(prune, criterion=criterion)
        how = (
            "L1-norm filter pruning (PaddleSlim): whole filters are removed"
            if criterion == "l1_norm"
            else "weight-magnitude pruning (zeros in the weights)"
        )
        b.check("strategy.prune", "ok", f"criterion auto -> {criterion} on {runtime.backend}: {how}")
    if quant is not None and quant.algo == AUTO and quant.mode == "ptq_static" and runtime.backend == "paddle":
        quant = replace(quant, algo=PADDLE_DEFAULT_ALGO)
        b.check(
            "strategy.quant",
            "ok",
            f"algo auto -> {PADDLE_DEFAULT_ALGO} (mean of the per-batch abs-max; PaddleSlim's own default is hist)",
        )
    b.recipe = replace(b.recipe, strategy=replace(strategy, prune=prune, quant=quant))
