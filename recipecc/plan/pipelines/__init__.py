"""One pipeline per backend: how a recipe becomes nodes when the target's runtime belongs to that backend.

``PIPELINES`` maps a backend name to its ``build(builder, runtime) -> None``; a backend whose module does not
exist yet is not offered (the planner says so).
"""

from __future__ import annotations

from collections.abc import Callable

from recipecc.plan.builder import PlanBuilder
from recipecc.plan.optional import present_modules
from recipecc.recipe.catalog import Runtime

__all__ = ["PIPELINES", "Pipeline"]

Pipeline = Callable[[PlanBuilder, Runtime], None]


PIPELINES: dict[str, Pipeline] = {
    backend: module.build for backend, module in present_modules(__name__, ("paddle", "onnx", "tf")).items()
}
