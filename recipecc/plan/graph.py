"""The plan as a value: nodes (a pass with resolved parameters, inputs and a cache key) and legality checks.

A plan is pure data: ``recipecc plan`` prints exactly what ``recipecc run`` executes, and tests compare plans.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Check", "Plan", "PlanNode"]


@dataclass(frozen=True)
class PlanNode:
    """One pass to run. ``inputs`` maps the pass's input names to upstream node ids."""

    id: str
    pass_name: str
    params: Mapping[str, Any]
    inputs: Mapping[str, str]
    key: str
    #: for benchmark nodes: the name of the model stage they measure ("baseline", "pruned", ...)
    stage: str | None = None
    #: an optional node may fail without failing the run (e.g. one candidate of a search); its dependents are
    #: skipped and the failure is reported
    optional: bool = False


@dataclass(frozen=True)
class Check:
    """A legality or environment check the planner applied; ``status`` is "ok", "warn" or "skip"."""

    name: str
    status: str
    detail: str


@dataclass(frozen=True)
class Plan:
    recipe_name: str
    target_name: str
    recipe_hash: str
    cache_root: str
    nodes: tuple[PlanNode, ...]
    checks: tuple[Check, ...] = field(default_factory=tuple)
    #: stage name -> why its quality cannot be measured in this run (e.g. finetuned from an untrained baseline)
    quality_notes: Mapping[str, str] = field(default_factory=dict)

    def node(self, node_id: str) -> PlanNode:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    @property
    def bench_nodes(self) -> tuple[PlanNode, ...]:
        return tuple(n for n in self.nodes if n.stage is not None)

    def downstream_of(self, node_id: str) -> set[str]:
        """Every node that (transitively) consumes ``node_id``'s artifact."""
        found: set[str] = set()
        frontier = {node_id}
        while frontier:
            frontier = {n.id for n in self.nodes if set(n.inputs.values()) & frontier} - found
            found |= frontier
        return found
