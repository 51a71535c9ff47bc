"""The plan: order and wiring of passes, cache keys that change exactly where they should, no framework import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from recipecc.plan import Plan, build_plan
from recipecc.plan import builder as builder_module
from recipecc.recipe import compose_recipe, validate_recipe


def plan_for(*overrides: str) -> Plan:
    return build_plan(validate_recipe(compose_recipe(list(overrides))))


def keys(plan: Plan) -> dict[str, str]:
    return {node.id: node.key for node in plan.nodes}


def test_default_plan_order_and_inputs() -> None:
    plan = plan_for()
    assert [n.id for n in plan.nodes] == [
        "data", "train", "export", "prune", "finetune", "export.pruned", "quantize",
        "bench.baseline", "bench.pruned", "bench.pruned+int8",
    ]  # fmt: skip
    assert dict(plan.node("finetune").inputs) == {"model": "prune", "data": "data"}
    assert dict(plan.node("quantize").inputs) == {"model": "export.pruned", "data": "data"}
    # every stage after the baseline is compared with the baseline's outputs (fidelity metrics)
    assert dict(plan.node("bench.pruned+int8").inputs)["reference"] == "bench.baseline"
    assert "reference" not in plan.node("bench.baseline").inputs
    assert [n.stage for n in plan.bench_nodes] == ["baseline", "pruned", "pruned+int8"]
    assert plan.node("bench.pruned+int8").params["precision"] == "int8"
    assert {c.name for c in plan.checks} >= {"runtime", "precision", "threads", "backend"}


def test_quant_only_strategy_quantizes_the_baseline() -> None:
    plan = plan_for("strategy=quant")
    assert dict(plan.node("quantize").inputs)["model"] == "export"
    assert [n.stage for n in plan.bench_nodes] == ["baseline", "int8"]


def test_plan_is_deterministic() -> None:
    assert keys(plan_for()) == keys(plan_for())


def test_changing_prune_ratio_invalidates_only_downstream_passes() -> None:
    before, after = keys(plan_for()), keys(plan_for("strategy.prune.ratio=0.3"))
    changed = {node for node in before if before[node] != after[node]}
    assert changed == {"prune", "finetune", "export.pruned", "bench.pruned", "quantize", "bench.pruned+int8"}
    assert changed == plan_for().downstream_of("prune") | {"prune"}


def test_changing_measurement_settings_reruns_only_benchmarks() -> None:
    before, after = keys(plan_for()), keys(plan_for("bench.repeats=50"))
    assert {n for n in before if before[n] != after[n]} == {"bench.baseline", "bench.pruned", "bench.pruned+int8"}


def test_description_does_not_change_any_key() -> None:
    assert keys(plan_for()) == keys(plan_for("description=another words"))


def test_tool_versions_are_part_of_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    before = keys(plan_for())
    real = builder_module.tool_versions

    def bumped(tools: tuple[str, ...]) -> dict[str, str]:
        versions = real(tools)
        if "paddleslim" in versions:
            versions["paddleslim"] = "99.0"
        return versions

    monkeypatch.setattr(builder_module, "tool_versions", bumped)
    after = keys(plan_for())
    assert before["data"] == after["data"]
    assert before["train"] != after["train"]


def test_plan_verb_imports_no_framework_and_shows_cache_status() -> None:
    code = (
        "import sys, json; from recipecc.cli import main; rc = main(['plan', 'recipe=digits_smoke']);"
        "heavy = [m for m in ('paddle', 'tensorflow', 'onnxruntime', 'torch') if m in sys.modules];"
        "print(json.dumps({'rc': rc, 'heavy': heavy}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    verdict = json.loads(proc.stdout.strip().splitlines()[-1])
    assert verdict == {"rc": 0, "heavy": []}
    assert "to run" in proc.stdout
    assert "bench.pruned+int8" in proc.stdout
    assert "legality and environment checks" in proc.stdout
