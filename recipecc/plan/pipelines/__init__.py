"""One pipeline per backend: how a recipe becomes nodes when the target's runtime belongs to that backend.

``PIPELINES`` maps a backend name to its ``build(builder, runtime) -> None``; a backend whose module does not
exist yet is not offered (the planner says so).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from recipecc.plan.builder import PlanBuilder
from recipecc.recipe.catalog import Runtime

__all__ = ["PIPELINES", "Pipeline"]

Pipeline = Callable[[PlanBuilder, Runtime], None]


def _load() -> dict[str, Pipeline]:
    found: dict[str, Pipeline] = {}
    for backend in ("paddle", "onnx", "tf"):
        try:
            module = importlib.import_module(f"recipecc.plan.pipelines.{backend}")
        except ModuleNotFoundError as exc:
            if exc.name != f"recipecc.plan.pipelines.{backend}":
                raise
            continue
        found[backend] = module.build
    return found


PIPELINES: dict[str, Pipeline] = _load()
