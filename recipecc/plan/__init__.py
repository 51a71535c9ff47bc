"""Stage 2 — plan: turn a validated recipe + target into a DAG of passes with cache keys and legality checks.

Nothing here imports a backend framework: a pass is known by its registry entry (name, backend, entry point as
a string); the worker process of that backend imports the code when the pass runs.
"""

from __future__ import annotations

from recipecc.plan.cache import ArtifactCache
from recipecc.plan.graph import Check, Plan, PlanNode
from recipecc.plan.planner import build_plan
from recipecc.plan.registry import PASSES, PassSpec

__all__ = ["PASSES", "ArtifactCache", "Check", "PassSpec", "Plan", "PlanNode", "build_plan"]
