"""Framework-neutral strategy values, resolved per backend before a pipeline plans.

``strategy=int8``, ``fp16``, ``prune`` and ``prune_int8`` work on every backend and on user model files: their
``auto`` values become what each backend does best, and a plan check says what was chosen.

- ``strategy.prune.criterion: auto``: filter pruning by L1 norm where the pipeline builds a Paddle network (the
  filters really go away: fewer FLOPs), weight-magnitude pruning everywhere else (tfmot; ONNX files).
- ``strategy.quant.algo: auto``: PaddleSlim's ``avg`` on Paddle; ONNX Runtime chooses the calibration per model
  (``passes/onnx/calibration_search.py``); the TFLite converter calibrates min/max itself.
"""

from __future__ import annotations

from dataclasses import replace

from recipecc.plan.builder import PlanBuilder
from recipecc.recipe.catalog import ARCHITECTURES, Runtime

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


def resolve_neutral(b: PlanBuilder, runtime: Runtime) -> None:
    """Replace ``auto`` values in ``b.recipe`` with the backend's choice and record it as a plan check."""
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
        b.check("strategy.quant", "ok", f"algo auto -> {PADDLE_DEFAULT_ALGO} (PaddleSlim's default calibration)")
    b.recipe = replace(b.recipe, strategy=replace(strategy, prune=prune, quant=quant))
